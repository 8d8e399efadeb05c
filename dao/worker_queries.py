"""Live workers, their GPUs and the one task each holds. A worker that stops heartbeating
drops out of the listing. ``current_task_id`` doubles as a reservation: the dispatcher claims an
idle worker for a task with a compare-and-set before sending the task to that worker's queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from dao.tables import Worker, utcnow


def register_worker(session: Session, name: str, *, host: str, backend: str, queues: list[str],
                    gpus: list[dict[str, Any]]) -> None:
    """Insert or refresh a starting worker's row; it holds no task yet."""
    row = session.get(Worker, name)
    if row is None:
        row = Worker(name=name)
        session.add(row)
    row.host, row.backend, row.queues, row.gpus = host, backend, queues, gpus
    row.current_task_id, row.started_at, row.heartbeat_at = None, utcnow(), utcnow()
    session.flush()


def heartbeat_worker(session: Session, name: str, gpus: list[dict[str, Any]]) -> bool:
    """Renew a worker's heartbeat and GPU figures; False when its row is gone."""
    stmt = update(Worker).where(Worker.name == name).values(heartbeat_at=utcnow(), gpus=gpus)
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount == 1


def reserve_worker(session: Session, name: str, task_id: str) -> bool:
    """Claim an idle worker for a task (compare-and-set); False when it is taken."""
    stmt = (update(Worker).where(Worker.name == name, Worker.current_task_id.is_(None))
            .values(current_task_id=task_id).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def occupy_worker(session: Session, name: str, task_id: str) -> bool:
    """Mark the worker busy with a task it received, unless it is reserved for another (then the
    message is a stale duplicate and the reservation stands)."""
    stmt = (update(Worker).where(Worker.name == name, or_(Worker.current_task_id.is_(None),
                                                           Worker.current_task_id == task_id))
            .values(current_task_id=task_id).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def release_worker(session: Session, name: str, task_id: str) -> None:
    """Free a worker if it still holds this task (a newer reservation is left alone)."""
    session.execute(update(Worker).where(Worker.name == name, Worker.current_task_id == task_id)
                    .values(current_task_id=None).execution_options(synchronize_session=False))


def _live(stmt, lease_seconds: float, backend: str | None, now: dt.datetime | None = None):  # noqa: ANN001, ANN202
    stmt = stmt.where(Worker.heartbeat_at >= (now or utcnow()) - dt.timedelta(seconds=lease_seconds))
    if backend is not None:
        stmt = stmt.where(Worker.backend == backend)
    return stmt.order_by(Worker.name)


def live_workers(session: Session, lease_seconds: float, backend: str | None = None,
                 now: dt.datetime | None = None) -> list[Worker]:
    """Workers that beat within ``lease_seconds`` of ``now`` (None: utcnow())."""
    return list(session.scalars(_live(select(Worker), lease_seconds, backend, now)))


def live_worker_slots(session: Session, lease_seconds: float, backend: str) -> list:
    """Just what placement reads (name, gpus, current_task_id) of live workers: the submit path
    runs this on every new task, so no ORM objects."""
    columns = select(Worker.name, Worker.gpus, Worker.current_task_id)
    return list(session.execute(_live(columns, lease_seconds, backend)))


def remove_worker(session: Session, name: str) -> None:
    session.execute(delete(Worker).where(Worker.name == name))
