// Several tasks side by side: curves overlaid, parameters and metrics (each with its own 95%
// interval) with the differences marked, the paired tests of the tasks tested on the same
// subjects (GET /api/v0/compare), and parallel coordinates of the varying hyper-parameters.
import { api } from "./api.js";
import { $, h, fmt, markReady, notice } from "./dom.js";
import { boot } from "./shell.js";
import { color, lineChart, parallel } from "./charts.js";

const ids = (new URLSearchParams(location.search).get("ids") || "").split(",").map((s) => s.trim()).filter(Boolean);

boot(async () => {
  $("#ids").value = ids.join(",");
  $("#ids-form").addEventListener("submit", (e) => {
    e.preventDefault();
    location.assign(`/ui/compare?ids=${encodeURIComponent($("#ids").value.replace(/\s+/g, ""))}`);
  });
  if (ids.length) {
    const tasks = await Promise.all(ids.map(async (id) => {
      const enc = encodeURIComponent(id);
      try {
        const [full, ep] = await Promise.all([api(`/api/v0/tasks/${enc}?view=full`), api(`/api/v0/tasks/${enc}/epochs`)]);
        return { ...full, epochs: ep.epochs || [] };
      } catch (err) {
        notice(`${id}: ${err.message}`);
        return null;
      }
    }));
    const shown = tasks.filter(Boolean);
    render(shown, shown.length > 1 ? await compared(shown) : { error: "Paired tests need two tasks." });
  }
  markReady();
});

// Only the tasks shown: one the caller may not see is already named in the notice.
async function compared(tasks) {
  try {
    return await api(`/api/v0/compare?ids=${encodeURIComponent(tasks.map((t) => t.task_id).join(","))}`);
  } catch (err) {
    return { error: err.message };
  }
}

function render(tasks, comparison) {
  curves(tasks);
  sideBySide(tasks, comparison.tasks);
  pairedView(comparison);
  parallelView(tasks);
}

function curves(tasks) {
  const n = Math.max(0, ...tasks.map((t) => t.epochs.length));
  const xs = Array.from({ length: n }, (_, i) => i + 1);
  const col = (t, k) => xs.map((_, i) => (typeof t.epochs[i]?.[k] === "number" ? t.epochs[i][k] : null));
  const series = (train, val) => tasks.flatMap((t, i) => [
    { label: `${t.task_id} val`, values: col(t, val), color: color(i) },
    { label: `${t.task_id} train`, values: col(t, train), color: color(i), dash: [6, 4] },
  ]);
  lineChart($("#c-loss"), "Loss", xs, series("train_loss", "val_loss"));
  lineChart($("#c-acc"), "Accuracy", xs, series("train_accuracy", "val_accuracy"));
}

function settings(t) {
  const out = { task_name: t.task_name, status: t.status, task_type: t.task_type, model: t.model,
    train_data: (t.train_data || []).join(", "), val_data: (t.val_data || []).join(", "),
    test_data: (t.test_data || []).join(", "), parent: t.parent_task_id };
  for (const [k, v] of Object.entries(t.param_set || {})) out[`param_set.${k}`] = v;
  return out;
}

const flat = (t) => ({ ...settings(t), ...(t.metrics || {}) });

// A metric as the comparison gives it: its value and its own interval, where it has one.
function withInterval(m) {
  const value = fmt(m.value, 4);
  return m.low === null || m.high === null ? value : `${value} [${fmt(m.low, 4)}, ${fmt(m.high, 4)}]`;
}

const shownMetrics = (metrics) => Object.fromEntries(Object.entries(metrics).map(([k, m]) => [k, withInterval(m)]));

function sideBySide(tasks, compared) {
  const rows = compared ? tasks.map((t, i) => ({ ...settings(t), ...shownMetrics(compared[i].metrics) })) : tasks.map(flat);
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const tbl = h("table", { class: "grid", id: "compare-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "field"),
      tasks.map((t) => h("th", { scope: "col" }, h("a", { href: `/ui/tasks/${encodeURIComponent(t.task_id)}` }, t.task_id))))),
    h("tbody", {}, keys.map((k) => {
      const vals = rows.map((r) => fmt(r[k], 4));
      const differs = new Set(vals).size > 1;
      return h("tr", { class: differs ? "diff" : "", dataset: { field: k, differs: differs ? "1" : "0" } },
        h("th", { scope: "row" }, k, differs ? h("span", { class: "visually-hidden" }, " (differs)") : null),
        vals.map((v) => h("td", { class: "num" }, v)));
    })));
  $("#c-table").replaceChildren(tbl);
}

const pValue = (p) => (p === null ? "—" : p < 0.001 ? p.toExponential(1) : p.toFixed(3));

function pairedView(comparison) {
  if (!comparison.pairs) {
    $("#c-paired").replaceChildren(h("p", { class: "muted", id: "paired-none" }, comparison.error));
    return;
  }
  const rows = comparison.pairs.flatMap((p) => {
    const pair = { pair: `${p.a},${p.b}` };
    const name = () => h("th", { scope: "row" }, `${p.a} vs ${p.b}`);
    if (!p.pairable) {
      return [h("tr", { dataset: { ...pair, reason: p.reason } }, name(), h("td", { colspan: 5 }, `not pairable: ${p.detail}`))];
    }
    return p.paired.map((t) => h("tr", { dataset: { ...pair, metric: t.metric } }, name(), h("td", {}, t.metric),
      h("td", { class: "num" }, withInterval({ value: t.difference, low: t.low, high: t.high })),
      h("td", { class: "num" }, pValue(t.p_value)), h("td", { class: "num" }, pValue(t.p_value_holm)),
      h("td", {}, `${t.method}, n = ${t.n_common}`)));
  });
  const head = ["pair (a vs b)", "metric", "a − b [95% interval]", "p", "p (Holm)", "test"];
  $("#c-paired").replaceChildren(h("div", {},
    h("table", { class: "grid", id: "paired-table" },
      h("thead", {}, h("tr", {}, head.map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, rows)),
    comparison.correction_note ? h("p", { class: "muted", id: "paired-correction" }, comparison.correction_note) : null));
}

function parallelView(tasks) {
  const numeric = (t) => Object.fromEntries(Object.entries(flat(t)).filter(([, v]) => typeof v === "number"));
  const rows = tasks.map((t) => ({ label: t.task_id, values: numeric(t) }));
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.values).filter((k) => !k.startsWith("param_set."))))].sort();
  const select = $("#pc-metric");
  select.replaceChildren(...metrics.map((m) => h("option", { value: m }, m)));
  if (metrics.includes("test_accuracy")) select.value = "test_accuracy";
  const draw = () => {
    const params = [...new Set(rows.flatMap((r) => Object.keys(r.values).filter((k) => k.startsWith("param_set."))))]
      .filter((k) => new Set(rows.map((r) => r.values[k])).size > 1);
    const axes = [...params.map((k) => ({ key: k, label: k.slice(10) })), { key: select.value, label: select.value }];
    $("#c-parallel").replaceChildren(select.value && rows.length > 1
      ? parallel(axes, rows)
      : h("p", { class: "muted" }, "Needs at least two tasks with a metric."));
  };
  select.onchange = draw;
  draw();
}
