"""Per queue: how many tasks wait (QUEUED) and how many a worker holds (RUNNING, STOPPING),
for the dashboard's fleet page. Their sum is the queue's depth (``dao.queue_depth``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dao.queue_depth import ACTIVE
from dao.tables import Task


def status_counts(session: Session) -> dict[tuple[str, str], dict[str, int]]:
    """{(queue, backend): {status: tasks}} over active tasks; queues with none are absent."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    rows = session.execute(select(Task.queue, Task.backend, Task.status, func.count())
                           .where(Task.status.in_(ACTIVE)).group_by(Task.queue, Task.backend, Task.status))
    for queue, backend, status, n in rows:
        out.setdefault((queue, backend), {})[status] = int(n)
    return out
