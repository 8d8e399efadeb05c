// Charts from data: epoch curves (uPlot, vendored), a confusion-matrix heat map (a table, so
// it reads with a screen reader), parallel coordinates (SVG).
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { h, fmt } from "./dom.js";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
export const color = (i) => PALETTE[i % PALETTE.length];

// series: [{label, values (aligned with xs), dash}]; returns a handle with update(xs, series).
export function lineChart(el, title, xs, series) {
  let plot = null;
  const build = (xs2, series2) => {
    const opts = {
      title, width: Math.max(el.clientWidth, 280), height: 220,
      scales: { x: { time: false } },
      axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, {}],
      series: [{ label: "epoch" }, ...series2.map((s, i) => ({
        label: s.label, stroke: s.color || color(i), width: 2, dash: s.dash, spanGaps: true,
        value: (u, v) => fmt(v, 4),
      }))],
    };
    plot?.destroy();
    plot = new uPlot(opts, [xs2, ...series2.map((s) => s.values)], el);
    el.dataset.points = String(xs2.length);
  };
  build(xs, series);
  return {
    destroy() { plot?.destroy(); },
    update(xs2, series2) {
      if (series2.length !== plot.series.length - 1) return build(xs2, series2);
      plot.setData([xs2, ...series2.map((s) => s.values)]);
      el.dataset.points = String(xs2.length);
    },
  };
}

export function heatmap(matrix, names) {
  const max = Math.max(1, ...matrix.flat());
  const cell = (v, i, j) => {
    const a = v / max;
    return h("td", {
      class: i === j ? "cm diag" : "cm",
      style: `background: rgba(31, 119, 180, ${a.toFixed(3)}); color: ${a > 0.55 ? "#fff" : "#111"}`,
      title: `true ${names[i]}, predicted ${names[j]}: ${v}`,
    }, String(v));
  };
  return h("table", { class: "heatmap", id: "confusion-table" },
    h("caption", {}, "rows: true class · columns: predicted class"),
    h("thead", {}, h("tr", {}, h("td", {}), names.map((n) => h("th", { scope: "col" }, n)))),
    h("tbody", {}, matrix.map((r, i) => h("tr", {}, h("th", { scope: "row" }, names[i]), r.map((v, j) => cell(v, i, j))))));
}

// axes: [{key, label}], rows: [{label, values: {key: number}}]; the last axis is the metric.
export function parallel(axes, rows) {
  const W = Math.max(480, axes.length * 160), H = 280, pad = 40, side = 80;
  const x = (i) => side + (i * (W - 2 * side)) / Math.max(1, axes.length - 1);
  const ranges = axes.map((a) => {
    const vs = rows.map((r) => r.values[a.key]).filter((v) => typeof v === "number");
    const lo = Math.min(...vs), hi = Math.max(...vs);
    return [lo, hi === lo ? lo + 1 : hi];
  });
  const y = (i, v) => H - pad - ((v - ranges[i][0]) / (ranges[i][1] - ranges[i][0])) * (H - 2 * pad);
  const NS = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", class: "parallel",
    "aria-label": `Parallel coordinates of ${axes.map((a) => a.label).join(", ")}` });
  axes.forEach((a, i) => {
    svg.append(el("line", { x1: x(i), x2: x(i), y1: pad, y2: H - pad, stroke: "#888" }));
    svg.append(el("text", { x: x(i), y: pad - 12, "text-anchor": "middle", class: "axis-label" }, a.label));
    svg.append(el("text", { x: x(i), y: H - pad + 16, "text-anchor": "middle", class: "tick" }, fmt(ranges[i][0])));
    svg.append(el("text", { x: x(i), y: pad - 1, "text-anchor": "middle", class: "tick" }, fmt(ranges[i][1])));
  });
  const metric = axes.length - 1;
  rows.forEach((r, n) => {
    const pts = axes.map((a, i) => (typeof r.values[a.key] === "number" ? `${x(i)},${y(i, r.values[a.key])}` : null)).filter(Boolean);
    const line = el("polyline", { points: pts.join(" "), fill: "none", stroke: color(n), "stroke-width": 2, class: "pc-line" });
    line.append(el("title", {}, `${r.label}: ${fmt(r.values[axes[metric].key])}`));
    svg.append(line);
  });
  return svg;
}
