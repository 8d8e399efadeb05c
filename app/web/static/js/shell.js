// What every page shares: who is signed in, the project switcher, sign out.
import { api, ApiError, project, setProject, setToken } from "./api.js";
import { $, h, notice } from "./dom.js";

// Resolves to {user, projects} once the token is known good; redirects to sign-in on 401.
export async function shell() {
  $("#sign-out")?.addEventListener("click", () => {
    setToken("");
    setProject("");
    location.assign("/ui/signin");
  });
  let who = null;
  try {
    who = await api("/api/v0/whoami");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;  // a service without accounts
  }
  if (who?.user) $("#who-name").textContent = who.user.name;
  const projects = await loadProjects(who);
  fillSwitcher(projects);
  return { user: who?.user || null, projects };
}

async function loadProjects(who) {
  try {
    return (await api("/api/v0/projects")).projects || [];
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return who?.projects || [];
    notice(`Could not list projects: ${err.message}`);
    return [];
  }
}

function fillSwitcher(projects) {
  const select = $("#project-switch");
  if (!select) return;
  const current = project();
  const known = projects.some((p) => p.id === current);
  for (const p of projects) select.append(h("option", { value: p.id }, `${p.name || p.id}${p.role ? ` (${p.role})` : ""}`));
  if (current && !known) select.append(h("option", { value: current }, current));
  select.value = current;
  select.addEventListener("change", () => {
    setProject(select.value);
    document.dispatchEvent(new CustomEvent("project-changed", { detail: select.value }));
  });
}

// Runs a page's main function after the shell, reporting any failure on the page.
export function boot(main) {
  shell().then(main).catch((err) => {
    console.error(err);
    notice(err.message || String(err));
  });
}
