// Tiny DOM helpers: every text goes in through textContent, never as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export function fmt(value, digits = 3) {
  if (value === undefined || value === null || value === "") return "—";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function notice(message, kind = "error") {
  const el = document.getElementById("notice");
  if (!el) return;
  el.textContent = message;
  el.className = `notice ${kind}`;
  el.hidden = !message;
}

export function statusBadge(status) {
  return h("span", { class: `badge s-${(status || "").toLowerCase()}` }, status || "—");
}

export function table(headers, rows, { caption, className } = {}) {
  return h("table", { class: className },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

// The page is usable: its data is drawn and its controls wired (tests and bench/ wait on it).
export function markReady() {
  if (!document.body.dataset.ready) performance.mark("trainyard-ready");
  document.body.dataset.ready = "1";
}
