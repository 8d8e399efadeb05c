"""The fleet's metrics, read from the database at scrape time: tasks by status, backend and
project, queue depth and the age of the oldest waiting task, finished tasks, live workers and
how long ago each last beat. The reaper serves them (``start.sh beat``); on the embedded
default the API's ``/metrics`` adds them too. Stateless, so any process may serve them and two
scrapes agree.

Labels stay bounded: statuses, backends, queues and pools are the service's own; projects are
user input, so only the ``TRAINYARD_METRICS_TOP_PROJECTS`` largest are named and the rest are
counted as ``project="other"``; worker names are the operator's (one per worker process).
"""

from __future__ import annotations

import logging
import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dao import fleet_queries
from dao.db import session_scope
from dao.pending_work import Pool, pending_work
from dao.queue_depth import queue_depths
from contracts.settings import get_settings
from dao.tables import utcnow
from contracts.statuses import TaskStatus

log = logging.getLogger(__name__)
# Workers silent longer than this are long gone (SIGKILL leaves their row): no longer exported.
FORGET_WORKERS_AFTER_SECONDS = 3600.0


class FleetCollector(Collector):
    def collect(self):  # noqa: ANN201
        settings = get_settings()
        try:
            with session_scope() as session:
                families = _task_families(session, settings) + _queue_families(session, settings) \
                    + _worker_families(session, settings)
        except Exception as exc:  # noqa: BLE001 - a scrape during a database outage says so
            log.warning("fleet metrics unavailable: %s", exc)
            families = []
        up = GaugeMetricFamily("trainyard_fleet_database_up",
                               "1 when the fleet's figures could be read from the database")
        up.add_metric([], 1.0 if families else 0.0)
        yield from families
        yield up


def _task_families(session, settings) -> list:  # noqa: ANN001
    projects = fleet_queries.top_projects(session, settings.metrics_top_projects)
    tasks = GaugeMetricFamily("trainyard_tasks", "Tasks by status, backend and project "
                              "(projects beyond the largest few counted as 'other')",
                              labels=["status", "backend", "project"])
    finished = CounterMetricFamily("trainyard_tasks_finished", "Tasks that ended, by final status",
                                   labels=["status", "backend"])
    done: dict[tuple[str, str], int] = {}
    terminal = {s.value for s in TaskStatus.terminal()}
    for row in fleet_queries.task_counts(session, projects):
        tasks.add_metric([row.status, row.backend, row.project], row.tasks)
        if row.status in terminal:
            done[(row.status, row.backend)] = done.get((row.status, row.backend), 0) + row.tasks
    for (status, backend), count in sorted(done.items()):
        finished.add_metric([status, backend], count)
    return [tasks, finished]


def _known_queues(settings) -> dict[str, str]:  # noqa: ANN001
    return {settings.torch_queue: "torch", settings.mxnet_queue: "mxnet"}


def _queue_families(session, settings) -> list:  # noqa: ANN001
    depth = GaugeMetricFamily("trainyard_queue_depth", "Tasks waiting or running per queue "
                              "(QUEUED + RUNNING + STOPPING)", labels=["queue", "backend"])
    seen = set()
    for row in queue_depths(session):
        depth.add_metric([row.queue, row.backend], row.tasks)
        seen.add(row.queue)
    for queue, backend in _known_queues(settings).items():
        if queue not in seen:  # an empty queue reads 0, not "no data"
            depth.add_metric([queue, backend], 0)
    pending = GaugeMetricFamily("trainyard_pool_pending_work", "Work each worker pool has in hand or "
                                "waiting for it: the value KEDA's PostgreSQL trigger scales the pool on",
                                labels=["pool"])
    for pool in Pool:
        pending.add_metric([pool.value], pending_work(session, pool, settings))
    age = GaugeMetricFamily("trainyard_queue_oldest_age_seconds",
                            "Seconds the oldest QUEUED task of each queue has waited (0: none)",
                            labels=["queue"])
    oldest, now = fleet_queries.oldest_queued(session), utcnow()
    for queue in sorted(set(oldest) | set(_known_queues(settings))):
        age.add_metric([queue], (now - oldest[queue]).total_seconds() if queue in oldest else 0.0)
    return [depth, pending, age]


def _worker_families(session, settings) -> list:  # noqa: ANN001
    live = GaugeMetricFamily("trainyard_workers_live", "Workers whose heartbeat is within the lease",
                             labels=["backend"])
    busy = GaugeMetricFamily("trainyard_workers_busy", "Live workers holding a task", labels=["backend"])
    age = GaugeMetricFamily("trainyard_worker_heartbeat_age_seconds",
                            "Seconds since each recently seen worker last beat", labels=["worker", "backend"])
    counts: dict[str, list[int]] = {b: [0, 0] for b in _known_queues(settings).values()}
    now = time.time()
    for w in fleet_queries.recent_workers(session, FORGET_WORKERS_AFTER_SECONDS):
        seconds = max(now - w.heartbeat_at.timestamp(), 0.0)
        age.add_metric([w.name, w.backend], seconds)
        if seconds <= settings.lease_seconds:
            counts.setdefault(w.backend, [0, 0])[0] += 1
            counts[w.backend][1] += int(w.busy)
    for backend, (n_live, n_busy) in sorted(counts.items()):
        live.add_metric([backend], n_live)
        busy.add_metric([backend], n_busy)
    return [live, busy, age]
