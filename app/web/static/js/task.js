// One task, live: the light poll long-polls with its ETag (?wait=) and the curves, logs and
// result follow what it says changed.
import { api, ApiError, download, saveBlob } from "./api.js";
import { $, h, fmt, markReady, notice, table, when } from "./dom.js";
import { boot } from "./shell.js";
import { heatmap, lineChart } from "./charts.js";

const TASK = $("#state").dataset.task;
const BASE = `/api/v0/tasks/${encodeURIComponent(TASK)}`;
const TERMINAL = new Set(document.body.dataset.terminal.split(" "));  // contracts.statuses, via the page
const WAIT_SECONDS = 25;
let charts = null;
let epochsSeen = -1;
let logCursor = 0;
let predictions = [];

boot(async () => {
  const full = await api(`${BASE}?view=full`);
  renderFull(full);
  await refreshEpochs(full.progress.epoch);
  await refreshLogs();
  wireActions(full);
  markReady();
  if (!TERMINAL.has(full.status)) follow();
  else await finishLogs();
});

// -- live ------------------------------------------------------------------------------
async function follow() {
  let etag = null;
  let last = null;
  const logTimer = setInterval(refreshLogs, 1500);
  for (;;) {
    let res;
    try {
      res = await api(`${BASE}${etag ? `?wait=${WAIT_SECONDS}` : ""}`, { raw: true, headers: etag ? { "If-None-Match": etag } : {} });
    } catch (err) {
      await sleep(2000);  // the API is away: try again
      continue;
    }
    if (res.status === 304) continue;
    if (!res.ok) { notice(`The task could not be read (HTTP ${res.status})`); await sleep(2000); continue; }
    etag = res.headers.get("ETag");
    last = await res.json();
    renderLight(last);
    if (last.progress.epoch !== epochsSeen) await refreshEpochs(last.progress.epoch);
    if (TERMINAL.has(last.status)) break;
  }
  clearInterval(logTimer);
  const full = await api(`${BASE}?view=full`);
  renderFull(full);
  await refreshEpochs(full.progress.epoch);
  await finishLogs();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// -- state -----------------------------------------------------------------------------
function renderLight(t) {
  const status = $("#status");
  status.textContent = t.status;
  status.className = `badge s-${t.status.toLowerCase()}`;
  document.body.dataset.status = t.status;
  const p = t.progress || {};
  $("#progress").value = p.percent || 0;
  $("#progress").setAttribute("aria-valuetext", `epoch ${p.epoch} of ${p.epochs}`);
  $("#progress-text").textContent = `epoch ${p.epoch ?? 0} of ${p.epochs ?? 0} (${fmt(p.percent ?? 0, 1)}%)`;
  $("#eta").textContent = p.eta_seconds != null ? `about ${Math.round(p.eta_seconds)} s left` : "";
  $("#task-error").hidden = !t.error;
  $("#task-error").textContent = t.error || "";
  const waiting = t.waiting_reason || (t.queue_position != null ? `position ${t.queue_position} in the queue` : "");
  $("#waiting").hidden = !waiting;
  $("#waiting").textContent = waiting;
  $("#stop").disabled = TERMINAL.has(t.status) || t.status === "STOPPING";
  const done = t.status === "SUCCEEDED";
  $("#deploy").disabled = !done;
  $("#download").disabled = !done && t.status !== "STOPPED";
}

function renderFull(t) {
  renderLight(t);
  $("#params").replaceChildren(kv({ task_name: t.task_name, task_type: t.task_type, model: t.model, backend: t.backend,
    train_data: (t.train_data || []).join(", "), val_data: (t.val_data || []).join(", "),
    test_data: t.enable_test ? (t.test_data || []).join(", ") : "(no test)", ...t.param_set }));
  $("#where").replaceChildren(kv({ worker: t.worker, device: t.device, attempt: t.attempt, created: when(t.created_at),
    started: when(t.started_at), finished: when(t.finished_at), heartbeat: when(t.heartbeat_at) }));
  renderLineage(t);
  renderResult(t.result || {});
}

function kv(obj) {
  return h("dl", { class: "kv" }, Object.entries(obj).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "number" ? String(v) : fmt(v))]));
}

async function renderLineage(t) {
  const box = $("#lineage");
  const parent = t.parent_task_id
    ? h("p", {}, "Parent: ", h("a", { href: `/ui/tasks/${encodeURIComponent(t.parent_task_id)}` }, t.parent_task_id))
    : h("p", { class: "muted" }, "No parent (trained from scratch).");
  let children = [];
  try {
    children = (await api(`/api/v0/tasks?parent=${encodeURIComponent(TASK)}&limit=100`)).tasks;
  } catch (err) { /* shown as none */ }
  box.replaceChildren(parent, children.length
    ? h("div", {}, h("p", {}, "Children:"), h("ul", {}, children.map((c) =>
      h("li", {}, h("a", { href: `/ui/tasks/${encodeURIComponent(c.task_id)}` }, c.task_id), ` ${c.task_type} · ${c.status}`))))
    : h("p", { class: "muted" }, "No children."));
}

// -- result ----------------------------------------------------------------------------
function testPart(result) {
  return result.test && typeof result.test === "object" ? result.test : null;
}

// A detector's test images with their true and detected boxes (the worker draws them).
async function renderDetections() {
  $("#cm-h").textContent = "Detections (test images)";
  const res = await api(`${BASE}/plots/detections.png?redirect=false`, { raw: true });
  if (!res.ok) return;
  const img = h("img", { id: "detections", src: URL.createObjectURL(await res.blob()),
    alt: "Test images with their true boxes (solid) and the detector's boxes (dashed)" });
  img.style.maxWidth = "100%";
  $("#confusion").replaceChildren(img);
}

function renderResult(result) {
  const test = testPart(result);
  if (result.target === "detection" && !$("#detections")) renderDetections().catch(() => {});
  if (test?.confusion_matrix) {
    const names = test.class_names || test.confusion_matrix.map((_, i) => String(i));
    $("#confusion").replaceChildren(heatmap(test.confusion_matrix, names));
  }
  const metrics = Object.entries(result).filter(([k, v]) => typeof v === "number" && k.startsWith("test_") && !/_(low|high)$/.test(k));
  if (metrics.length) {
    $("#metrics").replaceChildren(table(["metric", "value", "95% interval"], metrics.map(([k, v]) => [k, fmt(v),
      result[`${k}_low`] !== undefined ? `${fmt(result[`${k}_low`])}–${fmt(result[`${k}_high`])}` : "—"]), { className: "compact" }));
  }
  if (result.standard_baseline) renderBaseline(result, result.standard_baseline);
  predictions = test?.predictions || [];
  if (predictions.length) renderPredictions("subject", 1);
  $("#csv").disabled = !predictions.length;
  if (result.splits) renderSplit(result.splits);
}

const interval = (low, high) => (low === null || low === undefined ? "—" : `${fmt(low)}–${fmt(high)}`);

// The standard baseline on the same subjects: its score and the paired difference (model − baseline).
function renderBaseline(result, record) {
  if (record.skipped) {
    $("#baseline").replaceChildren(h("p", { class: "muted" }, `No baseline: ${record.skipped}.`));
    return;
  }
  const rows = record.paired.map((p) => [p.metric, fmt(result[p.metric]),
    `${fmt(result[`baseline_${p.metric}`])} (${interval(result[`baseline_${p.metric}_low`], result[`baseline_${p.metric}_high`])})`,
    `${fmt(p.difference)} (${interval(p.low, p.high)})`, fmt(p.p_value), p.method]);
  const beaten = record.paired.filter((p) => p.high !== null && p.high < 0).map((p) => p.metric);
  const verdict = beaten.length
    ? h("p", { class: "warn", id: "baseline-wins" }, `The simple baseline scores higher on ${beaten.join(", ")} (the whole 95% interval of the difference is below 0).`)
    : h("p", { class: "muted" }, "Differences are this model minus the baseline, on the same test subjects.");
  $("#baseline").replaceChildren(verdict, table(["metric", "this model", "baseline [95%]", "difference [95%]", "p", "test"], rows,
    { className: "compact", caption: `${record.model}, fitted on ${record.fitted_on} (${record.n_train}) in ${fmt(record.seconds, 2)} s` }));
}

function renderSplit(splits) {
  const roles = splits.roles || {};
  const rows = Object.entries(roles).map(([role, part]) => [role, (part.datasets || []).join(", "), fmt(part.n_subjects),
    Object.entries(part.class_counts || {}).map(([c, n]) => `${c}: ${n}`).join(", ") || "—"]);
  if (!rows.length) return;
  const extra = [];
  if (splits.seed !== undefined) extra.push(`seed ${splits.seed}`);
  if (splits.fractions) extra.push(`fractions ${Object.entries(splits.fractions).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(", ")}`);
  $("#split").replaceChildren(table(["role", "datasets", "subjects", "per class"], rows, { className: "compact", caption: extra.join(" · ") || undefined }));
}

const probOf = (p, c) => (p.probabilities || {})[c];

function renderPredictions(key, dir) {
  const classes = Object.keys(predictions[0].probabilities || {});
  const value = (p) => (classes.includes(key) ? probOf(p, key) : p[key]);
  const sorted = [...predictions].sort((a, b) => {
    const x = value(a), y = value(b);
    return (x > y ? 1 : x < y ? -1 : 0) * dir;
  });
  const cols = ["subject", "label", "predicted", ...classes];
  const head = cols.map((c) => {
    const active = c === key;
    return h("th", { scope: "col", "aria-sort": active ? (dir > 0 ? "ascending" : "descending") : "none" },
      h("button", { type: "button", class: "sort", onclick: () => renderPredictions(c, active ? -dir : 1) },
        c === "subject" || c === "label" || c === "predicted" ? c : `P(${c})`, active ? (dir > 0 ? " ▲" : " ▼") : ""));
  });
  const body = sorted.map((p) => h("tr", { class: p.label !== p.predicted ? "miss" : "" },
    h("td", {}, p.subject), h("td", {}, p.label), h("td", {}, p.predicted), classes.map((c) => h("td", { class: "num" }, fmt(probOf(p, c), 4)))));
  $("#predictions").replaceChildren(h("table", { class: "grid", id: "predictions-table" }, h("thead", {}, h("tr", {}, head)), h("tbody", {}, body)));
}

function predictionsCsv() {
  const classes = Object.keys(predictions[0].probabilities || {});
  const esc = (v) => (/[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
  const lines = [["subject", "label", "predicted", ...classes.map((c) => `p_${c}`)].map(esc).join(",")];
  for (const p of predictions) lines.push([p.subject, p.label, p.predicted, ...classes.map((c) => probOf(p, c))].map(esc).join(","));
  return `${lines.join("\n")}\n`;
}

// -- curves ----------------------------------------------------------------------------
async function refreshEpochs(epochCount) {
  const data = await api(`${BASE}/epochs`);
  const eps = data.epochs || [];
  epochsSeen = epochCount ?? eps.length;
  $("#epoch-count").textContent = String(eps.length);
  const xs = eps.map((e, i) => e.epoch ?? i + 1);
  const col = (k) => eps.map((e) => (typeof e[k] === "number" ? e[k] : null));
  const loss = [{ label: "train loss", values: col("train_loss") }, { label: "val loss", values: col("val_loss") }];
  // A detector's epochs have no accuracy: its validation score is the VOC mAP.
  const detector = eps.length > 0 && eps.every((e) => e.train_accuracy === null);
  const acc = detector ? [{ label: "val VOC mAP", values: col("val_map") }]
    : [{ label: "train accuracy", values: col("train_accuracy") }, { label: "val accuracy", values: col("val_accuracy") }];
  if (!charts || charts.detector !== detector) {
    if (charts) { charts.loss.destroy(); charts.acc.destroy(); }
    charts = { detector, loss: lineChart($("#loss-chart"), "Loss", xs, loss),
      acc: lineChart($("#acc-chart"), detector ? "Validation mAP" : "Accuracy", xs, acc) };
    if (detector) $("#acc-chart").setAttribute("aria-label", "Validation VOC mAP per epoch");
  } else { charts.loss.update(xs, loss); charts.acc.update(xs, acc); }
}

// -- logs ------------------------------------------------------------------------------
async function refreshLogs() {
  try {
    const page = await api(`${BASE}/logs?cursor=${logCursor}&limit=500`);
    if (page.lines.length) {
      const pre = $("#logs");
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(page.lines.map((l) => `${l.at.slice(11, 19)} ${l.level.padEnd(7)} ${l.message}\n`).join(""));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
    logCursor = page.next_cursor;
    return page.done;
  } catch (err) {
    return true;  // no logs endpoint answer: nothing to show
  }
}

async function finishLogs() {
  for (let i = 0; i < 5 && !(await refreshLogs()); i++) await sleep(800);
}

// -- actions ---------------------------------------------------------------------------
function wireActions(t) {
  const msg = $("#action-msg");
  const from = `/ui/new?from=${encodeURIComponent(TASK)}`;
  $("#finetune").href = `${from}&task_type=dl_ft`;
  $("#evaluate").href = `${from}&task_type=dl_ev`;
  $("#stop").addEventListener("click", async () => {
    $("#stop").disabled = true;
    try { msg.textContent = (await api(`${BASE}/stop`, { method: "POST" })).msg; }
    catch (err) { msg.textContent = err.message; }
  });
  $("#deploy").addEventListener("click", async () => {
    try {
      const r = await api(`${BASE}/deploy`, { method: "POST", json: {} });
      msg.replaceChildren(`${r.msg || "deploying"} `, h("a", { href: "/ui/models" }, "see models"));
    } catch (err) { msg.textContent = err.message; }
  });
  // redirect=false: through the API, as a redirect to the bucket would need CORS there
  $("#download").addEventListener("click", () => download(`${BASE}/model?redirect=false`, `${TASK}-weights`).catch((err) => { msg.textContent = err.message; }));
  $("#csv").addEventListener("click", () => saveBlob(new Blob([predictionsCsv()], { type: "text/csv" }), `${TASK}-predictions.csv`));
  if (t.backend === "mxnet") $("#deploy").title = "MXNet tasks cannot be deployed yet";
}
