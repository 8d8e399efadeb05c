import { api, ApiError, setToken, setProject } from "./api.js";
import { $ } from "./dom.js";

const form = $("#signin-form");
const error = $("#token-error");
const next = new URLSearchParams(location.search).get("next") || "/ui/experiments";

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const value = $("#token").value.trim();
  setToken(value);
  try {
    const who = await whoami();
    if (who?.projects?.length === 1) setProject(who.projects[0].id);
    location.assign(next.startsWith("/ui/") ? next : "/ui/experiments");
  } catch (err) {
    setToken("");
    error.textContent = err.status === 401 ? "This token was refused (unknown, expired or revoked)." : err.message;
    $("#token").setAttribute("aria-invalid", "true");
    $("#token").focus();
  }
});

// whoami says whose token it is; a service without accounts (no whoami) takes any token
// its task listing accepts.
async function whoami() {
  try {
    return await api("/api/v0/whoami", { noRedirect: true });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
    await api("/api/v0/tasks?limit=1", { noRedirect: true });
    return null;
  }
}
$("#token").focus();
document.body.dataset.ready = "1";
