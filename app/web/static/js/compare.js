// Several tasks side by side: curves overlaid, parameters and metrics with the differences
// marked, and parallel coordinates of the varying hyper-parameters against a metric.
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
    render(tasks.filter(Boolean));
  }
  markReady();
});

function render(tasks) {
  curves(tasks);
  sideBySide(tasks);
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

function flat(t) {
  const out = { task_name: t.task_name, status: t.status, task_type: t.task_type, model: t.model,
    train_data: (t.train_data || []).join(", "), val_data: (t.val_data || []).join(", "),
    test_data: (t.test_data || []).join(", "), parent: t.parent_task_id };
  for (const [k, v] of Object.entries(t.param_set || {})) out[`param_set.${k}`] = v;
  for (const [k, v] of Object.entries(t.metrics || {})) out[k] = v;
  return out;
}

function sideBySide(tasks) {
  const rows = tasks.map(flat);
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
