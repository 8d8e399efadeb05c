"""A task's log lines: appended by its worker, read by the API with a cursor (the line's
``seq``, numbered per task across its attempts)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from dao.db import plain_rows
from dao.tables import TaskLogLine

# The logger whose lines are MXServer's states of a task (tasks/mx_backend.py writes them).
MXSERVER_STATE_LOGGER = "trainyard.mxserver.state"
_STATES = (select(TaskLogLine.attempt, TaskLogLine.at, TaskLogLine.message)
           .where(TaskLogLine.task_id == bindparam("task_id"), TaskLogLine.logger == MXSERVER_STATE_LOGGER)
           .order_by(TaskLogLine.seq).limit(200))


def next_seq(session: Session, task_id: str) -> int:
    return int(session.scalar(select(func.coalesce(func.max(TaskLogLine.seq), 0))
                              .where(TaskLogLine.task_id == task_id))) + 1


def append_line(session: Session, task_id: str, seq: int, attempt: int, at: dt.datetime,
                level: str, logger: str, message: str) -> None:
    """Raises IntegrityError when ``seq`` is taken (another writer of the same task)."""
    session.add(TaskLogLine(task_id=task_id, seq=seq, attempt=attempt, at=at, level=level,
                            logger=logger[:100], message=message))
    session.flush()


def lines_after(session: Session, task_id: str, cursor: int, limit: int,
                attempt: int | None = None) -> list[TaskLogLine]:
    stmt = select(TaskLogLine).where(TaskLogLine.task_id == task_id, TaskLogLine.seq > cursor)
    if attempt is not None:
        stmt = stmt.where(TaskLogLine.attempt == attempt)
    return list(session.scalars(stmt.order_by(TaskLogLine.seq).limit(limit)))


def mxserver_states(conn, task_id: str) -> list:  # noqa: ANN001 - a connection or a session
    """(attempt, at, message) of each MXServer state line of the task, in order."""
    if isinstance(conn, Session):
        return list(conn.execute(_STATES, {"task_id": task_id}))
    return plain_rows(conn, _STATES, {"task_id": task_id})
