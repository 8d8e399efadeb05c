// The task table: filters and sort in the URL, one page of the listing at a time (its cursor).
import { api, project, qs } from "./api.js";
import { $, $$, h, fmt, markReady, statusBadge, when } from "./dom.js";
import { boot } from "./shell.js";

const PAGE = 50;
const selected = new Set();
let cursor = null;

function params() {
  const f = new FormData($("#filters"));
  const key = f.get("sort") || "created_at";
  return {
    proj_id: project(), status: f.get("status"), model: f.get("model"), task_type: f.get("task_type"),
    dataset: f.get("dataset"), sweep_id: f.get("sweep_id").trim(), sort: `${f.get("dir") || ""}${key}`, limit: PAGE,
  };
}

function metricKey() {
  const key = $("#f-sort").value;
  return key === "created_at" ? "test_accuracy" : key;
}

function withInterval(metrics, key) {
  const v = metrics[key];
  if (v === undefined) return "—";
  const lo = metrics[`${key}_low`], hi = metrics[`${key}_high`];
  return lo !== undefined && hi !== undefined ? `${fmt(v)} [${fmt(lo)}–${fmt(hi)}]` : fmt(v);
}

function row(t) {
  const box = h("input", { type: "checkbox", "aria-label": `Select ${t.task_id}`, checked: selected.has(t.task_id),
    onchange: (e) => { e.target.checked ? selected.add(t.task_id) : selected.delete(t.task_id); updateSelection(); } });
  const data = [...new Set([...(t.train_data || []), ...(t.val_data || []), ...(t.test_data || [])])].join(", ");
  const metric = withInterval(t.metrics || {}, metricKey());
  return h("tr", { dataset: { task: t.task_id } },
    h("td", {}, box),
    h("td", {}, h("a", { href: `/ui/tasks/${encodeURIComponent(t.task_id)}` }, t.task_id)),
    h("td", {}, t.task_name), h("td", {}, t.task_type), h("td", {}, t.model),
    h("td", {}, statusBadge(t.status)), h("td", { class: "wrap" }, data),
    h("td", { class: t.test_on_seen_subjects ? "num warn" : "num", title: t.test_on_seen_subjects ? "tested on subjects its lineage had seen" : null }, metric),
    h("td", {}, when(t.created_at)));
}

// A sweep ordered by a test metric: the API's warning, and the task its selection record chose on validation.
async function showSelectionNote(warning, sweepId) {
  const note = $("#selection-note");
  note.hidden = !warning;
  if (!warning) return;
  note.replaceChildren(h("strong", {}, "Biased order. "), warning);
  const record = await api(`/api/v0/sweeps/${encodeURIComponent(sweepId)}`).catch(() => null);
  const s = record && record.selection;
  if (!s || !s.chosen_task_id) return;
  note.append(" ", h("span", { id: "selection-chosen" }, `Chosen on ${s.selected_on} ${s.metric} from ${s.n_candidates} finished: `,
    h("a", { href: `/ui/tasks/${encodeURIComponent(s.chosen_task_id)}` }, s.chosen_task_id), "."));
}

function updateSelection() {
  $("#selected-count").textContent = `${selected.size} selected`;
  $("#compare").disabled = selected.size < 2;
}

async function load(reset) {
  const p = params();
  if (!reset && cursor) p.cursor = cursor;
  const page = await api(`/api/v0/tasks${qs(p)}`);
  const body = $("#tasks tbody");
  if (reset) body.replaceChildren();
  body.append(...page.tasks.map(row));
  cursor = page.next_cursor;
  $("#more").hidden = !cursor;
  $("#empty").hidden = body.children.length > 0;
  $("#metric-head").textContent = `${metricKey()} [95% interval]`;
  if (reset) await showSelectionNote(page.selection_warning, p.sweep_id);
}

function syncUrl() {
  const f = new FormData($("#filters"));
  const keep = {};
  for (const [k, v] of f.entries()) if (v && !(k === "sort" && v === "created_at") && !(k === "dir" && v === "-")) keep[k] = v;
  history.replaceState(null, "", `/ui/experiments${qs(keep)}`);
}

function restoreFromUrl() {
  const u = new URLSearchParams(location.search);
  $("#f-dir").value = "-";
  for (const el of $$("#filters select, #filters input")) if (u.has(el.name)) el.value = u.get(el.name);
}

async function fillChoices() {
  const [models, datasets] = await Promise.all([api("/api/v0/models"), api("/api/v0/datasets")]);
  const u = new URLSearchParams(location.search);
  for (const m of models.models || []) $("#f-model").append(h("option", { value: m.name }, m.name));
  for (const d of datasets.datasets || []) $("#f-dataset").append(h("option", { value: d.name }, d.name));
  if (u.get("model")) $("#f-model").value = u.get("model");
  if (u.get("dataset")) $("#f-dataset").value = u.get("dataset");
}

boot(async () => {
  restoreFromUrl();
  const choices = fillChoices();
  await load(true);
  markReady();
  await choices;
  $("#filters").addEventListener("change", () => { syncUrl(); load(true); });
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); syncUrl(); load(true); });  // Enter in the sweep field
  document.addEventListener("project-changed", () => load(true));
  $("#more").addEventListener("click", () => load(false));
  const compare = (ids) => location.assign(`/ui/compare?ids=${ids.map(encodeURIComponent).join(",")}`);
  $("#compare").addEventListener("click", () => compare([...selected]));
  $("#compare-shown").addEventListener("click", () => compare($$("#tasks tbody tr").slice(0, 50).map((tr) => tr.dataset.task)));
});
