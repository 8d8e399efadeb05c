// The fleet: live workers with their GPUs and the task each holds; queues and their depth.
import { api } from "./api.js";
import { $, h, fmt, markReady, table, when } from "./dom.js";
import { boot } from "./shell.js";

const mib = (b) => (typeof b === "number" ? `${Math.round(b / 2 ** 20)} MiB` : "—");
const taskLink = (id) => (id ? h("a", { href: `/ui/tasks/${encodeURIComponent(id)}` }, id) : "idle");

async function refresh() {
  const [fleet, queues] = await Promise.all([api("/api/v0/gpus"), api("/api/v0/queues")]);
  $("#queues").replaceChildren(queues.queues.length
    ? table(["queue", "backend", "waiting", "running", "depth", "by pool"], queues.queues.map((q) =>
      [q.queue, q.backend, fmt(q.queued), fmt(q.running), fmt(q.depth),
        Object.entries(q.pools || {}).map(([p, n]) => `${p}: ${n}`).join(", ")]), { className: "grid", caption: "Queued and running tasks per queue" })
    : h("p", { class: "muted" }, "No queued or running task."));
  const holding = Object.fromEntries((queues.held || []).map((t) => [t.worker, t.task_id]));
  $("#workers").replaceChildren(fleet.workers.length
    ? table(["worker", "host", "backend", "queues", "task", "GPUs", "heartbeat"], fleet.workers.map((w) => [
      w.worker, w.host, w.backend, (w.queues || []).join(", "), taskLink(w.current_task_id || holding[w.worker]),
      w.gpus.length ? h("ul", { class: "plain" }, w.gpus.map((g) => h("li", {},
        `#${g.index} ${g.name || ""}: ${mib(g.used_bytes)} / ${mib(g.total_bytes)} used, ${fmt(g.utilization_percent)}% busy, ${fmt(g.temperature_c)} °C`))) : "CPU",
      when(w.heartbeat_at)]), { className: "grid" })
    : h("p", { class: "muted" }, "No live worker."));
  $("#fleet-at").textContent = `Last: ${new Date().toLocaleTimeString()}`;
}

boot(async () => {
  await refresh();
  markReady();
  setInterval(() => refresh().catch(() => {}), 5000);
});
