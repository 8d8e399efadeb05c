"""The lease reaper (``start.sh beat``): finds tasks whose worker vanished and messages that
were lost, so that no task row is ever left that nothing will run."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select, update

from dao.db import session_scope
from dao.settings import Settings, get_settings
from dao.tables import Task, TaskStatus, utcnow
from tasks.publish import PublishError, broker_queue_depth, publish_task

log = logging.getLogger(__name__)
S = TaskStatus


@dataclass
class ReapReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)


def reap_once(settings: Settings | None = None) -> ReapReport:
    settings = settings or get_settings()
    report = ReapReport()
    _reclaim_orphans(settings, report)
    _publish_unsent(settings, report)
    return report


def _reclaim_orphans(settings: Settings, report: ReapReport) -> None:
    """RUNNING/STOPPING tasks whose lease expired: STOPPING ones stop; the others go back to
    the queue with attempt + 1 (resuming from their checkpoint) or fail after max_attempts."""
    cutoff = utcnow() - dt.timedelta(seconds=settings.lease_seconds)
    with session_scope() as session:
        orphans = session.scalars(select(Task).where(
            Task.status.in_([S.RUNNING.value, S.STOPPING.value]), Task.heartbeat_at < cutoff,
        ).with_for_update(skip_locked=True)).all()
        for task in orphans:
            _reclaim(session, task, settings, report)


def _reclaim(session, task: Task, settings: Settings, report: ReapReport) -> None:  # noqa: ANN001
    base = update(Task).where(Task.id == task.id, Task.status == task.status,
                              Task.heartbeat_at == task.heartbeat_at)
    now = utcnow()
    if task.status == S.STOPPING.value:
        session.execute(base.values(status=S.STOPPED.value, finished_at=now, updated_at=now))
        report.stopped.append(task.id)
    elif task.attempt >= settings.max_attempts:
        message = f"worker lost {task.attempt} times (last: {task.worker}); giving up"
        session.execute(base.values(status=S.FAILED.value, error=message, finished_at=now,
                                    updated_at=now))
        report.failed.append(task.id)
    else:
        session.execute(base.values(status=S.QUEUED.value, attempt=task.attempt + 1, worker=None,
                                    device=None, heartbeat_at=None, published_at=None,
                                    updated_at=now))
        report.requeued.append(task.id)
    log.warning("task %s: worker %s lost its lease; now %s", task.id, task.worker,
                "requeued" if task.id in report.requeued else "finished")


def _publish_unsent(settings: Settings, report: ReapReport) -> None:
    """Publish QUEUED tasks never published, and re-publish old ones when their queue holds
    fewer messages than queued tasks (the broker lost messages, e.g. Redis restarted)."""
    stale = utcnow() - dt.timedelta(seconds=settings.requeue_after_seconds)
    with session_scope() as session:
        queued = session.execute(select(Task.id, Task.backend, Task.queue, Task.published_at)
                                 .where(Task.status == S.QUEUED.value)).all()
    by_queue: dict[str, list] = {}
    for row in queued:
        by_queue.setdefault(row.queue, []).append(row)
    for queue, rows in by_queue.items():
        unsent = [r for r in rows if r.published_at is None]
        if len(rows) > len(unsent):
            depth = broker_queue_depth(queue)
            if depth is not None and depth < len(rows) - len(unsent):
                unsent += [r for r in rows if r.published_at is not None and r.published_at < stale]
        _publish(unsent, report)


def _publish(rows, report: ReapReport) -> None:  # noqa: ANN001
    for row in rows:
        try:
            publish_task(row.id, row.backend, row.queue)
        except PublishError:
            return  # the broker is away; the next sweep tries again
        with session_scope() as session:
            session.execute(update(Task).where(Task.id == row.id, Task.status == S.QUEUED.value)
                            .values(published_at=utcnow()))
        report.published.append(row.id)


def run_forever(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    log.info("reaper: every %.1fs, lease %.0fs", settings.reaper_interval_seconds,
             settings.lease_seconds)
    while True:
        try:
            report = reap_once(settings)
            if any(vars(report).values()):
                log.info("reaper: %s", report)
        except Exception as exc:  # noqa: BLE001 - a database or broker blip: try next round
            log.warning("reaper: sweep failed: %s", exc)
        time.sleep(settings.reaper_interval_seconds)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_forever()
