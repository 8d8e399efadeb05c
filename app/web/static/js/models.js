// Served models (the MMS management routes), their versions and workers, a "try it" box
// (the connectome prediction route), and the networks the service can train.
import { api } from "./api.js";
import { $, h, fmt, markReady, table } from "./dom.js";
import { boot } from "./shell.js";

boot(async () => {
  const [served, nets] = await Promise.all([api("/models"), api("/api/v0/models")]);
  const versions = await Promise.all((served.models || []).map((m) => api(`/models/${encodeURIComponent(m.modelName)}/all`).catch(() => [])));
  const rows = versions.flat();
  $("#served").replaceChildren(rows.length
    ? table(["model", "version", "default", "status", "source", "workers", "batch", "verification"], rows.map((v) => [
      v.modelName, v.modelVersion, v.isDefault ? "yes" : "", v.status + (v.error ? `: ${v.error}` : ""), v.modelUrl,
      `${(v.workers || []).length} (min ${v.minWorkers}, max ${v.maxWorkers})`, `${v.batchSize} / ${v.maxBatchDelay} ms`,
      v.verification ? `max diff ${fmt(v.verification.max_abs_diff ?? v.verification.max_difference)}` : "—"]), { className: "grid" })
    : h("p", { class: "muted" }, "No model is served yet. Deploy a finished task from its page."));
  for (const m of served.models || []) $("#try-model").append(h("option", { value: m.modelName }, m.modelName));
  $("#networks").replaceChildren(table(["name", "backend", "description"], (nets.models || []).map((m) => [m.name, m.backend, m.description || ""]), { className: "grid" }));
  $("#try-form").addEventListener("submit", tryIt);
  markReady();
});

async function tryIt(event) {
  event.preventDefault();
  const out = $("#try-result");
  const model = $("#try-model").value;
  if (!model) { out.textContent = "No served model to try."; return; }
  const path = `/api/v0/models/${encodeURIComponent(model)}/predict`;
  try {
    let reply;
    const file = $("#try-file").files[0];
    if (file) {
      const body = new FormData();
      body.append("file", file);
      reply = await api(path, { method: "POST", body });
    } else {
      let parsed;
      try { parsed = JSON.parse($("#try-json").value); } catch { out.textContent = "The matrix is not valid JSON."; return; }
      reply = await api(path, { method: "POST", json: parsed });
    }
    const classes = reply.class_names || [];
    out.replaceChildren(table(["subject", "class", ...classes.map((c) => `P(${c})`)],
      reply.predictions.map((p) => [p.subject, p.class, ...classes.map((c) => fmt(p.probabilities[c], 4))]), { className: "grid" }));
  } catch (err) {
    out.replaceChildren(h("p", { class: "error" }, err.message),
      h("ul", {}, (err.errors || []).map((e) => h("li", {}, `${e.field}: ${e.problem}`))));
  }
}
