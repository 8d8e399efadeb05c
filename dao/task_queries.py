"""Task rows and their state machine. Every transition is a compare-and-set
(``UPDATE … WHERE status IN expected``), so a duplicate message never runs twice and a stop
never races a finish. Functions take a session and never commit."""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select, tuple_, update
from sqlalchemy.orm import Session

from dao.db import plain_rows
from dao.errors import InvalidTransition, TaskNotFound
from dao.tables import JsonColumn, Task, utcnow
from contracts.statuses import TaskStatus

S = TaskStatus


def new_task_id(now: dt.datetime | None = None) -> str:
    """``TASK`` + UTC timestamp + random suffix, like the original's ``TASK20012912454500``."""
    now = now or utcnow()
    return f"TASK{now:%y%m%d%H%M%S}{secrets.token_hex(4).upper()}"


def insert_new_task(session: Session, **fields: Any) -> str:
    """Insert a task row and return its id. A plain Core INSERT with bound parameters (compiled
    once, no ORM bookkeeping): this is the submit path."""
    task_id = fields.pop("id", None) or new_task_id()
    session.connection().execute(_INSERT_TASK, {"id": task_id, **fields})
    return task_id


_INSERT_TASK = Task.__table__.insert()  # built once: its cache key is computed once


def get_task(session: Session, task_id: str) -> Task:
    """Raises TaskNotFound."""
    task = session.get(Task, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    return task


def _cas(session: Session, task_id: str, expected: Iterable[S], owner: str | None = None,
         **values: Any) -> bool:
    """Set ``values`` if the task is in one of the ``expected`` states (and, given an
    ``owner``, still held by that worker: a worker that lost its lease writes nothing)."""
    stmt = (
        update(Task)
        .where(Task.id == task_id, Task.status.in_([s.value for s in expected]))
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if owner is not None:
        stmt = stmt.where(Task.worker == owner)
    return session.execute(stmt).rowcount == 1


def lock_if_owned(session: Session, task_id: str, worker: str) -> bool:
    """Lock the task row for this transaction if the worker still holds it (RUNNING/STOPPING);
    a worker writes epochs and artifacts only under this lock."""
    row = session.execute(
        select(Task.id).where(Task.id == task_id, Task.worker == worker,
                              Task.status.in_([S.RUNNING.value, S.STOPPING.value]))
        .with_for_update()
    ).first()
    return row is not None


def claim_task(session: Session, task_id: str, worker: str, device: str) -> bool:
    """QUEUED → RUNNING for this worker. False when another delivery or a stop got there first."""
    now = utcnow()
    return _cas(
        session, task_id, [S.QUEUED], status=S.RUNNING.value, worker=worker, device=device,
        started_at=now, heartbeat_at=now, waiting_reason=None, error=None,
    )


def heartbeat(session: Session, task_id: str, worker: str) -> str | None:
    """Renew the lease of a task this worker runs; returns its status (None if it is not ours)."""
    stmt = (
        update(Task)
        .where(Task.id == task_id, Task.worker == worker,
               Task.status.in_([S.RUNNING.value, S.STOPPING.value]))
        .values(heartbeat_at=utcnow())
        .returning(Task.status)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).scalar_one_or_none()


def record_progress(session: Session, task_id: str, worker: str, epochs_done: int) -> None:
    session.execute(
        update(Task).where(Task.id == task_id, Task.worker == worker)
        .values(epochs_done=epochs_done, heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def request_stop(session: Session, task_id: str) -> str:
    """QUEUED → STOPPED at once; RUNNING → STOPPING (the worker stops at its next batch).

    Returns the new status. Raises TaskNotFound, or InvalidTransition when already finished.
    """
    for _ in range(3):  # a hand-back (RUNNING → QUEUED) may slip between the two attempts
        if _cas(session, task_id, [S.QUEUED], status=S.STOPPED.value, finished_at=utcnow()):
            return S.STOPPED.value
        if _cas(session, task_id, [S.RUNNING], status=S.STOPPING.value):
            return S.STOPPING.value
        status = session.scalar(select(Task.status).where(Task.id == task_id))
        if status is None:
            raise TaskNotFound(task_id)
        if status == S.STOPPING.value:
            return status
        if status in {t.value for t in S.terminal()}:
            raise InvalidTransition(task_id, status, "stopped")
    raise InvalidTransition(task_id, status, "stopped right now; try again")


def update_task_result(session: Session, task_id: str, worker: str, result: dict[str, Any],
                       epochs_done: int) -> str | None:
    """Finish the worker's running task: RUNNING → SUCCEEDED, or STOPPING → STOPPED when a stop
    won the race (its result is kept either way). Returns the final status, None if not ours."""
    values = dict(result=result, epochs_done=epochs_done, finished_at=utcnow())
    if _cas(session, task_id, [S.RUNNING], worker, status=S.SUCCEEDED.value, **values):
        return S.SUCCEEDED.value
    if _cas(session, task_id, [S.STOPPING], worker, status=S.STOPPED.value, **values):
        return S.STOPPED.value
    return None


def mark_stopped(session: Session, task_id: str, worker: str, result: dict[str, Any] | None) -> bool:
    return _cas(session, task_id, [S.STOPPING, S.RUNNING], worker, status=S.STOPPED.value,
                result=result, finished_at=utcnow())


def mark_failed(session: Session, task_id: str, worker: str, error: str) -> bool:
    return _cas(session, task_id, [S.RUNNING, S.STOPPING], worker, status=S.FAILED.value,
                error=error[:4000], finished_at=utcnow())


def release_to_queue(session: Session, task_id: str, worker: str) -> bool:
    """RUNNING → QUEUED for a worker that is shutting down; the next claim resumes it."""
    return _cas(session, task_id, [S.RUNNING], worker, status=S.QUEUED.value, worker=None,
                device=None, published_at=None, heartbeat_at=None)


def queue_position(session: Session, task: Task) -> int | None:
    """1-based place among QUEUED tasks of the same queue, oldest first; None if not queued."""
    if task.status != S.QUEUED.value:
        return None
    # A row-value comparison, so the (status, queue, created_at, id) index answers it.
    ahead = session.scalar(
        select(func.count()).select_from(Task).where(
            Task.status == S.QUEUED.value, Task.queue == task.queue,
            tuple_(Task.created_at, Task.id) < tuple_(task.created_at, task.id),
        )
    )
    return int(ahead or 0) + 1


def tasks_using_dataset(session: Session, name: str) -> list[str]:
    """Ids of QUEUED/RUNNING/STOPPING tasks whose form names the dataset in any role."""
    active = session.scalars(
        select(Task).where(Task.status.in_([S.QUEUED.value, S.RUNNING.value, S.STOPPING.value]))
    )
    return [t.id for t in active if name in dataset_names(t.form)]


def dataset_names(form: dict[str, Any]) -> set[str]:
    return {n for role in ("train_data", "val_data", "test_data") for n in form.get(role) or []}


def with_save_prefix(session: Session, prefix: str, projects: frozenset[str] | None = None,
                     limit: int = 50) -> list[str]:
    """The MXNet tasks whose request named this ``save_prefix`` (MXServer's checkpoint prefix),
    newest first; ``projects``: only tasks of these projects (None: every task)."""
    saved = Task.form["param_set"]["save_prefix"].as_string()
    visible = [] if projects is None else [Task.proj_id.in_(projects)]
    return list(session.scalars(select(Task.id).where(Task.backend == "mxnet", saved == prefix, *visible)
                                .order_by(Task.created_at.desc(), Task.id.desc()).limit(limit)))


def poll_row(conn, task_id: str, metric_keys: Iterable[str]):  # noqa: ANN001, ANN201 - a Row
    """What the light poll shows, in one statement: the task's columns that change while it
    runs and ``headline`` (the named result keys as one object, not the whole result, which
    grows with every epoch). None when there is no such task.
    ``conn`` is a Core connection (the poll reads in autocommit: no BEGIN, no ROLLBACK)."""
    rows = plain_rows(conn, _poll_statement(conn.dialect.name, tuple(sorted(metric_keys))), {"task_id": task_id})
    return rows[0] if rows else None


_KEY = re.compile(r"^[a-z0-9_]+$")


def _headline_sql(dialect: str, keys: tuple[str, ...]) -> str:
    """The named keys of the result in one pass over it. One ``result -> key`` per key would
    read (and on PostgreSQL de-TOAST) the whole result once per key. A task without a result
    may hold JSON ``null`` rather than SQL NULL, which ``jsonb_each`` refuses (hence the CASE).
    The keys are our own constants, inlined so the statement has one parameter and stays in
    psycopg's cache."""
    assert all(_KEY.match(k) for k in keys), keys
    listed = ", ".join(f"'{k}'" for k in keys)
    if dialect == "postgresql":
        only_objects = "CASE WHEN jsonb_typeof(tasks.result) = 'object' THEN tasks.result END"
        return (f"(SELECT jsonb_object_agg(m.key, m.value) FROM jsonb_each({only_objects}) AS m "
                f"WHERE m.key IN ({listed}))")
    return (f"(SELECT json_group_object(m.key, m.value) FROM json_each(tasks.result) AS m "
            f"WHERE m.key IN ({listed}))")


@functools.lru_cache(maxsize=8)
def _poll_statement(dialect: str, metric_keys: tuple[str, ...]):  # noqa: ANN202 - a Select
    """Built once: building it costs more than running it, and the same object hits
    SQLAlchemy's compiled cache. The queue position comes from dao.queue_positions."""
    headline = literal_column(_headline_sql(dialect, metric_keys), type_=JsonColumn).label("headline")
    return select(
        Task.id, Task.proj_id, Task.status, Task.task_type, Task.model, Task.backend, Task.queue, Task.attempt,
        Task.epochs_total, Task.epochs_done, Task.error, Task.waiting_reason, Task.created_at,
        Task.started_at, Task.finished_at, Task.sweep_id, Task.form["source"].as_string().label("source"), headline,
    ).where(Task.id == bindparam("task_id"))
