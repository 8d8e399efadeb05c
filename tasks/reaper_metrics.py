"""The reaper's own metrics: what each sweep did (tasks re-queued, failed after the attempt
limit, stopped for a dead worker, re-published) and, from the database, how long tasks waited
in the queue and how long they ran, as histograms.

The histograms are fed by a watermark: every sweep reads the tasks that started (or finished)
since the previous read, minus an overlap that covers slow commits and clock skew between
machines, and observes each (task, start) once. A restarted reaper starts counting afresh, as
a Prometheus counter may.
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import Counter, Histogram

from dao import fleet_queries
from dao.db import session_scope
from dao.tables import utcnow

OVERLAP = dt.timedelta(seconds=120)
# Waits from "a worker was free" (seconds) to "the fleet had to scale up" (hours).
WAIT_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600)
# Runs from a quick evaluation (seconds) to a long training (days).
RUN_BUCKETS = (1, 5, 15, 30, 60, 300, 600, 1800, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 72 * 3600)

REAPED = Counter("trainyard_reaper_tasks", "Tasks the reaper acted on, by action: requeued (worker "
                 "lost), failed (worker lost max_attempts times), stopped (stopping when its worker "
                 "died), published (message lost or never sent)", ["action"])
SWEEPS = Counter("trainyard_reaper_sweeps", "Reaper sweeps, by outcome", ["outcome"])
QUEUE_WAIT = Histogram("trainyard_task_queue_wait_seconds",
                       "Seconds from a task's submission to each start of it on a worker",
                       ["backend"], buckets=WAIT_BUCKETS)
RUN_TIME = Histogram("trainyard_task_run_seconds", "Seconds from a task's (last) start to its end",
                     ["backend", "status"], buckets=RUN_BUCKETS)


def count_report(report) -> None:  # noqa: ANN001 - a tasks.reaper.ReapReport
    for action in ("requeued", "failed", "stopped", "published"):
        REAPED.labels(action).inc(len(getattr(report, action)))
    SWEEPS.labels("ok").inc()


def count_failed_sweep() -> None:
    SWEEPS.labels("error").inc()


class DurationWatch:
    """Observes queue waits and run times of tasks that started / finished since it was made."""

    def __init__(self):
        self.mark = utcnow()
        self.seen: set[tuple[str, str, dt.datetime]] = set()

    def observe_new(self) -> int:
        """Observe what happened since the last call; returns how many durations were new."""
        now, since = utcnow(), self.mark - OVERLAP
        with session_scope() as session:
            started = fleet_queries.started_since(session, since)
            finished = fleet_queries.finished_since(session, since)
        new = 0
        for kind, rows in (("start", started), ("end", finished)):
            for row in rows:
                key = (kind, row.task_id, row.at)
                if key in self.seen:
                    continue
                self.seen.add(key)
                new += 1
                if kind == "start":
                    QUEUE_WAIT.labels(row.backend).observe(row.seconds)
                else:
                    RUN_TIME.labels(row.backend, row.status).observe(row.seconds)
        self.mark = now
        self.seen = {k for k in self.seen if k[2] >= now - OVERLAP}
        return new
