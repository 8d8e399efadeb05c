"""A task's log lines: appended by its worker, read by the API with a cursor (the line's
``seq``, numbered per task across its attempts)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dao.tables import TaskLogLine


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
