"""The one definition of a queue's depth that the metrics export (``trainyard_queue_depth``).

Depth counts the work a queue has in hand: tasks waiting (QUEUED) and those a worker holds
(RUNNING, STOPPING), because that is what an autoscaler must size the fleet for; a running
task needs its worker as much as a waiting one needs a new one. The scaling work defines the
same thing per pool in ``dao/pending_work.py``; when both exist this function is the place to
switch to it, and the metrics follow.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from dao.tables import Task, TaskStatus

ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value, TaskStatus.STOPPING.value)


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    backend: str
    pool: str  # "gpu", "cpu" or "any" (a task whose device is "auto" and not yet running)
    tasks: int


def _pool():  # noqa: ANN202 - a SQL expression
    wanted = Task.form["requirements"]["device"].as_string()
    return case(
        (or_(Task.device.like("cuda%"), wanted == "gpu"), "gpu"),
        (or_(Task.device == "cpu", wanted == "cpu"), "cpu"),
        else_="any",
    )


def queue_depths(session: Session) -> list[QueueDepth]:
    """Active tasks per (queue, backend, pool); queues with none are absent."""
    pool = _pool().label("pool")
    rows = session.execute(
        select(Task.queue, Task.backend, pool, func.count())
        .where(Task.status.in_(ACTIVE)).group_by(Task.queue, Task.backend, pool)
    ).all()
    return [QueueDepth(q, b, p, int(n)) for q, b, p, n in rows]
