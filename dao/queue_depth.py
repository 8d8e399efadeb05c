"""A queue's depth as the metrics export it (``trainyard_queue_depth``): tasks waiting (QUEUED)
and those a worker holds (RUNNING, STOPPING) per queue and backend, because a running task
needs its worker as much as a waiting one needs a new one.

Which worker *pool* a task counts for is defined once, in ``dao/pending_work.py`` (what the
dispatcher gives or would give each pool, the very query KEDA scales on); the metrics export
that per pool as ``trainyard_pool_pending_work``, so this module says nothing about pools.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dao.tables import Task
from contracts.statuses import TaskStatus

ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value, TaskStatus.STOPPING.value)


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    backend: str
    tasks: int


def queue_depths(session: Session) -> list[QueueDepth]:
    """Active tasks per (queue, backend); queues with none are absent."""
    rows = session.execute(
        select(Task.queue, Task.backend, func.count())
        .where(Task.status.in_(ACTIVE)).group_by(Task.queue, Task.backend)
    ).all()
    return [QueueDepth(q, b, int(n)) for q, b, n in rows]
