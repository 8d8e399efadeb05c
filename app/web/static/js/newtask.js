// The NEURO-LEARN form. Values go to the API as typed (numbers as numeric strings), so the
// API's own checks decide, and its field errors are shown beside their fields.
import { api, ApiError, project } from "./api.js";
import { $, $$, h, markReady, notice } from "./dom.js";
import { boot } from "./shell.js";

const DEFAULTS = { task_name: "baseline", task_type: "dl_ts", "param_set.learning_rate": "0.05", "param_set.batch_size": "10",
  "param_set.lr_step_size": "60", "param_set.lr_decay": "0.2", "param_set.epochs": "20", "param_set.trained_task_id": "" };
const LISTS = ["train_data", "val_data", "test_data"];
const form = $("#task-form");
let models = [];
let datasets = [];

// The datasets the chosen model can read (connectomes or images), keeping what was selected.
function fillDatasets() {
  const kind = models.find((x) => x.name === $("#model").value)?.input || "connectome";
  for (const list of LISTS) {
    const select = $(`#${list}`);
    const keep = new Set([...select.selectedOptions].map((o) => o.value));
    select.replaceChildren(...datasets.filter((x) => (x.kind || "connectome") === kind)
      .map((x) => h("option", { value: x.name, selected: keep.has(x.name) }, x.name)));
  }
}

boot(async () => {
  const [m, d] = await Promise.all([api("/api/v0/models"), api("/api/v0/datasets")]);
  models = m.models || [];
  for (const x of models) $("#model").append(h("option", { value: x.name }, x.aliases?.length ? `${x.name} (${x.aliases.join(", ")})` : x.name));
  datasets = (d.datasets || []).filter((x) => !x.status || x.status === "READY");
  fill(DEFAULTS);
  fillDatasets();
  const names = [...$("#train_data").options].map((o) => o.value);
  $("#proj_id").value = project() || "PROJ20191217104136";
  $("#proj_name").value = "SZ with sfMRI";
  if (names.length) for (const list of LISTS) setList(list, [names[0]]);
  await prefill().catch((err) => notice(`Cannot start from ${new URLSearchParams(location.search).get("from")}: ${err.message}`));
  $("#model").addEventListener("change", () => { showModelHint(); fillDatasets(); });
  showModelHint();
  form.addEventListener("submit", submit);
  markReady();
});

function fill(values) {
  for (const [k, v] of Object.entries(values)) {
    const el = form.elements.namedItem(k);
    if (el) el.value = v ?? "";
  }
}

function setList(name, values) {
  for (const o of $(`#${name}`).options) o.selected = values.includes(o.value);
}

function showModelHint() {
  const m = models.find((x) => x.name === $("#model").value);
  $("#model-hint").textContent = m ? [m.backend, m.description].filter(Boolean).join(" · ") : "";
}

// ?from=<task>&task_type=dl_ft|dl_ev: that task's form, with it as the parent.
async function prefill() {
  const u = new URLSearchParams(location.search);
  const from = u.get("from");
  if (!from) return;
  const t = await api(`/api/v0/tasks/${encodeURIComponent(from)}?view=full`);
  const type = u.get("task_type") || "dl_ft";
  fill({ proj_id: t.proj_id, proj_name: t.proj_name, task_name: `${t.task_name} ${type === "dl_ev" ? "eval" : "fine-tune"}`,
    task_type: type, model: t.model });
  fillDatasets();
  for (const [k, v] of Object.entries(t.param_set || {})) fill({ [`param_set.${k}`]: v });
  fill({ "param_set.trained_task_id": from });
  for (const list of LISTS) setList(list, t[list] || []);
  $("#enable_test").checked = type === "dl_ev" ? true : !!t.enable_test;
}

function body() {
  const out = { param_set: {} };
  for (const el of form.elements) {
    if (!el.name) continue;
    let value = el.type === "checkbox" ? el.checked : el.value.trim();
    if (value === "" && "omitEmpty" in el.dataset) continue;
    if (el.multiple) value = [...el.selectedOptions].map((o) => o.value);
    if (el.name.startsWith("param_set.")) out.param_set[el.name.slice(10)] = value;
    else out[el.name] = value;
  }
  return out;
}

function clearErrors() {
  for (const el of $$(".error", form)) el.textContent = "";
  for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
}

// The field's box, or its nearest named parent (train_data[0] or train_data.0 → train_data).
function fieldBox(path) {
  const parts = String(path).replace(/\[(\d+)\]/g, ".$1").split(".");
  while (parts.length) {
    const box = form.querySelector(`[data-field="${CSS.escape(parts.join("."))}"]`);
    if (box) return box;
    parts.pop();
  }
  return null;
}

function showErrors(errors, msg) {
  const loose = [];
  let first = null;
  for (const e of errors) {
    const box = fieldBox(e.field);
    if (!box) { loose.push(`${e.field}: ${e.problem}`); continue; }
    const p = box.querySelector(".error");
    p.textContent = p.textContent ? `${p.textContent}; ${e.problem}` : e.problem;
    const input = box.querySelector("input, select");
    input.setAttribute("aria-invalid", "true");
    first = first || input;
  }
  $("#form-errors").replaceChildren(msg, loose.length ? h("ul", {}, loose.map((l) => h("li", {}, l))) : "");
  (first || $("#form-errors")).focus();
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  $("#submit").disabled = true;
  try {
    const reply = await api("/api/v0/new_task", { method: "POST", json: body() });
    location.assign(`/ui/tasks/${encodeURIComponent(reply.task_form.task_id)}`);
  } catch (err) {
    if (err instanceof ApiError) showErrors(err.errors, err.message);
    else showErrors([], String(err));
  } finally {
    $("#submit").disabled = false;
  }
}
