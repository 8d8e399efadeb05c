"""Per queue: how many tasks wait (QUEUED) and how many a worker holds (RUNNING, STOPPING),
for the dashboard's fleet page. Their sum is the queue's depth (``dao.queue_depth``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dao.queue_depth import ACTIVE
from dao.tables import Task
from contracts.statuses import TaskStatus

HELD = (TaskStatus.RUNNING.value, TaskStatus.STOPPING.value)


def status_counts(session: Session) -> dict[tuple[str, str], dict[str, int]]:
    """{(queue, backend): {status: tasks}} over active tasks; queues with none are absent."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    rows = session.execute(select(Task.queue, Task.backend, Task.status, func.count())
                           .where(Task.status.in_(ACTIVE)).group_by(Task.queue, Task.backend, Task.status))
    for queue, backend, status, n in rows:
        out.setdefault((queue, backend), {})[status] = int(n)
    return out


def held_tasks(session: Session) -> list[tuple[str, str | None, str | None, str, str, str]]:
    """(task id, worker, device, queue, status, project) of every task a worker holds (RUNNING,
    STOPPING), oldest first: a worker without a GPU reservation is busy with these."""
    rows = session.execute(select(Task.id, Task.worker, Task.device, Task.queue, Task.status, Task.proj_id)
                           .where(Task.status.in_(HELD)).order_by(Task.started_at, Task.id))
    return [tuple(r) for r in rows]
