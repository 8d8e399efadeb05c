"""Live workers and their GPUs; a worker that stops heartbeating drops out of the listing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dao.tables import Worker, utcnow


def upsert_worker(session: Session, name: str, *, host: str, backend: str, queues: list[str],
                  gpus: list[dict[str, Any]], current_task_id: str | None) -> None:
    row = session.get(Worker, name)
    if row is None:
        row = Worker(name=name, host=host, backend=backend, started_at=utcnow())
        session.add(row)
    row.host, row.backend, row.queues, row.gpus = host, backend, queues, gpus
    row.current_task_id = current_task_id
    row.heartbeat_at = utcnow()
    session.flush()


def live_workers(session: Session, lease_seconds: float) -> list[Worker]:
    cutoff = utcnow() - dt.timedelta(seconds=lease_seconds)
    return list(session.scalars(
        select(Worker).where(Worker.heartbeat_at >= cutoff).order_by(Worker.name)
    ))


def remove_worker(session: Session, name: str) -> None:
    session.execute(delete(Worker).where(Worker.name == name))
