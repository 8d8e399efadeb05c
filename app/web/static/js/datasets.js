// Datasets: the list with each one's class balance, and an upload with a progress bar
// (XMLHttpRequest: fetch cannot report upload progress) whose rejection lists every problem.
import { api, authHeaders, project } from "./api.js";
import { $, h, fmt, markReady, when } from "./dom.js";
import { boot } from "./shell.js";
import { color } from "./charts.js";

boot(async () => {
  await refresh();
  $("#upload-form").addEventListener("submit", upload);
  markReady();
});

async function refresh() {
  const { datasets } = await api("/api/v0/datasets");
  $("#datasets tbody").replaceChildren(...datasets.map((d) => h("tr", { dataset: { name: d.name } },
    h("td", {}, d.name), h("td", {}, d.kind), h("td", {}, d.status || "READY"),
    h("td", { class: "num" }, fmt(d.n_subjects ?? d.n_images)), h("td", { class: "num" }, fmt(d.n_regions)),
    h("td", { class: "num" }, fmt(d.n_features)), h("td", {}, balance(d.class_counts)),
    h("td", {}, d.proj_id || "shared"), h("td", {}, d.source_filename), h("td", {}, when(d.created_at)))));
}

function balance(counts) {
  if (!counts || typeof counts !== "object") return "—";
  const entries = Object.entries(counts);
  const total = entries.reduce((s, [, n]) => s + n, 0) || 1;
  const label = entries.map(([c, n]) => `${c}: ${n}`).join(", ");
  return h("div", { class: "balance", role: "img", "aria-label": `class balance ${label}` },
    h("div", { class: "bar" }, entries.map(([c, n], i) => h("span", { style: `width:${(100 * n) / total}%; background:${color(i)}`, title: `${c}: ${n}` }))),
    h("span", { class: "muted" }, label));
}

function upload(event) {
  event.preventDefault();
  const file = $("#file").files[0];
  const out = $("#upload-result");
  out.replaceChildren();
  if (!file) { out.replaceChildren(h("p", { class: "error" }, "Choose a file first.")); $("#file").focus(); return; }
  const data = new FormData();
  data.append("file", file);
  if ($("#ds-name").value.trim()) data.append("name", $("#ds-name").value.trim());
  data.append("kind", $("#ds-kind").value);
  if (project()) data.append("proj_id", project());  // the switcher's project owns it; none: shared
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/v0/datasets");
  for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
  xhr.upload.onprogress = (e) => {
    if (!e.lengthComputable) return;
    const pct = Math.round((100 * e.loaded) / e.total);
    $("#upload-progress").value = pct;
    $("#upload-pct").textContent = `${pct}%`;
  };
  $("#upload").disabled = true;
  xhr.onloadend = async () => {
    $("#upload").disabled = false;
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { body = { msg: `HTTP ${xhr.status}` }; }
    if (xhr.status >= 200 && xhr.status < 300) {
      $("#upload-progress").value = 100;
      out.replaceChildren(h("p", { class: "ok" }, `${body.msg}: ${body.dataset?.name}`));
      await refresh();
    } else {
      out.replaceChildren(h("p", { class: "error" }, body.msg || `HTTP ${xhr.status}`),
        h("ul", { id: "upload-problems", class: "problems" }, (body.errors || []).map((e) => h("li", {}, `${e.field}: ${e.problem}`))));
    }
  };
  xhr.send(data);
}
