"""The dispatcher's and the reaper's writes to task rows, each a named compare-and-set: it
writes only while the row is in the state the caller read, and says whether it won. (The
worker's and the API's transitions are in dao.task_queries.) Functions take a session and
never commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from dao.tables import Task, utcnow
from contracts.statuses import TaskStatus

S = TaskStatus
QUEUED = S.QUEUED.value


def _unsent(task_id: str):  # noqa: ANN202 - an Update
    return (update(Task).where(Task.id == task_id, Task.status == QUEUED, Task.published_at.is_(None))
            .execution_options(synchronize_session=False))


def _queued(task_id: str, *where: Any):  # noqa: ANN202 - an Update
    return (update(Task).where(Task.id == task_id, Task.status == QUEUED, *where)
            .execution_options(synchronize_session=False))


def note_waiting(session: Session, task_id: str, reason: str | None) -> bool:
    """A QUEUED task with no message yet records why it waits."""
    return session.execute(_unsent(task_id).values(waiting_reason=reason)).rowcount == 1


def mark_sent(session: Session, task_id: str, worker: str | None) -> bool:
    """A QUEUED task with no message yet is marked published (to ``worker``'s queue, or the
    shared one). False when another dispatcher marked it first."""
    values = dict(published_at=utcnow(), waiting_reason=None, worker=worker)
    return session.execute(_unsent(task_id).values(**values)).rowcount == 1


def unmark_sent(session: Session, task_id: str) -> bool:
    """Undo a QUEUED task's publish mark and placement (the broker refused its message)."""
    return session.execute(_queued(task_id).values(published_at=None, worker=None)).rowcount == 1


def mark_republished(session: Session, task_id: str) -> bool:
    """A QUEUED task whose message was sent again records when."""
    return session.execute(_queued(task_id).values(published_at=utcnow())).rowcount == 1


def unplace_from_worker(session: Session, task_id: str, worker: str) -> bool:
    """A QUEUED task placed on ``worker`` (which vanished) goes back to the dispatcher."""
    stmt = _queued(task_id, Task.worker == worker).values(worker=None, published_at=None)
    return session.execute(stmt).rowcount == 1


def unplace_from_queue(session: Session, backend: str, queue: str, published_before: dt.datetime) -> int:
    """QUEUED ``backend`` tasks sent to the shared ``queue`` before ``published_before`` go back
    to the dispatcher. Returns how many."""
    stmt = (update(Task).where(Task.status == QUEUED, Task.backend == backend, Task.queue == queue,
                               Task.worker.is_(None), Task.published_at < published_before)
            .values(published_at=None).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount


def _orphan(session: Session, task_id: str, expected: str, lease_read: dt.datetime | None,
            **values: Any) -> bool:
    # Guarded by the heartbeat read: a worker that renewed its lease meanwhile keeps the task.
    stmt = (update(Task).where(Task.id == task_id, Task.status == expected, Task.heartbeat_at == lease_read)
            .values(updated_at=utcnow(), **values).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def requeue_orphan(session: Session, task_id: str, status: str, heartbeat_at: dt.datetime | None,
                   attempt: int) -> bool:
    """An orphan (its lease expired at ``heartbeat_at``, still ``status``) goes back to the queue
    as attempt ``attempt + 1``."""
    return _orphan(session, task_id, status, heartbeat_at, status=QUEUED, attempt=attempt + 1,
                   worker=None, device=None, heartbeat_at=None, published_at=None)


def stop_orphan(session: Session, task_id: str, heartbeat_at: dt.datetime | None) -> bool:
    """A STOPPING orphan becomes STOPPED."""
    return _orphan(session, task_id, S.STOPPING.value, heartbeat_at, status=S.STOPPED.value,
                   finished_at=utcnow())


def fail_orphan(session: Session, task_id: str, status: str, heartbeat_at: dt.datetime | None,
                error: str) -> bool:
    """An orphan that used up its attempts fails with ``error``."""
    return _orphan(session, task_id, status, heartbeat_at, status=S.FAILED.value, error=error,
                   finished_at=utcnow())
