"""What the fleet metrics read from the database (the source of truth): task counts, the age
of the oldest waiting task, live workers and their heartbeats. Read-only; never commits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from dao.clock import as_utc
from dao.tables import Task, Worker, utcnow
from contracts.statuses import TaskStatus

OTHER_PROJECTS = "other"


@dataclass(frozen=True)
class TaskCount:
    status: str
    backend: str
    project: str
    tasks: int


def top_projects(session: Session, limit: int) -> list[str]:
    """The ``limit`` projects with the most tasks (ties by id): the only ones named in labels."""
    if limit <= 0:
        return []
    return list(session.scalars(select(Task.proj_id).group_by(Task.proj_id)
                                .order_by(func.count().desc(), Task.proj_id).limit(limit)))


def task_counts(session: Session, projects: list[str]) -> list[TaskCount]:
    """Tasks per (status, backend, project), every project outside ``projects`` folded into
    ``"other"`` so the number of label values stays bounded whatever users name projects."""
    named = case((Task.proj_id.in_(projects), Task.proj_id), else_=OTHER_PROJECTS) if projects \
        else literal(OTHER_PROJECTS)
    project = named.label("project")
    rows = session.execute(select(Task.status, Task.backend, project, func.count())
                           .group_by(Task.status, Task.backend, project)).all()
    return [TaskCount(s, b, p, int(n)) for s, b, p, n in rows]


def oldest_queued(session: Session) -> dict[str, dt.datetime]:
    """Per queue, when its oldest QUEUED task was created."""
    rows = session.execute(select(Task.queue, func.min(Task.created_at))
                           .where(Task.status == TaskStatus.QUEUED.value).group_by(Task.queue)).all()
    return {queue: as_utc(created) for queue, created in rows}


@dataclass(frozen=True)
class WorkerBeat:
    name: str
    backend: str
    queues: list[str]
    busy: bool
    heartbeat_at: dt.datetime


def recent_workers(session: Session, within_seconds: float) -> list[WorkerBeat]:
    """Workers that heartbeat within the last ``within_seconds`` (older rows are long dead)."""
    since = utcnow() - dt.timedelta(seconds=within_seconds)
    rows = session.execute(select(Worker.name, Worker.backend, Worker.queues, Worker.current_task_id,
                                  Worker.heartbeat_at).where(Worker.heartbeat_at >= since)).all()
    return [WorkerBeat(n, b, list(q or []), t is not None, as_utc(h)) for n, b, q, t, h in rows]


@dataclass(frozen=True)
class Timed:
    """A task's id and a duration that ended at ``at`` (queue wait or run time)."""

    task_id: str
    backend: str
    status: str
    at: dt.datetime
    seconds: float


def started_since(session: Session, since: dt.datetime) -> list[Timed]:
    """Tasks started at or after ``since``: their wait from submission to start."""
    rows = session.execute(select(Task.id, Task.backend, Task.status, Task.created_at, Task.started_at)
                           .where(Task.started_at >= since)).all()
    return [Timed(i, b, st, as_utc(s), _seconds(c, s)) for i, b, st, c, s in rows]


def finished_since(session: Session, since: dt.datetime) -> list[Timed]:
    """Tasks finished at or after ``since`` that had started: their run time."""
    rows = session.execute(select(Task.id, Task.backend, Task.status, Task.started_at, Task.finished_at)
                           .where(Task.finished_at >= since, Task.started_at.is_not(None))).all()
    return [Timed(i, b, st, as_utc(f), _seconds(s, f)) for i, b, st, s, f in rows]


def _seconds(start: dt.datetime, end: dt.datetime) -> float:
    return max((as_utc(end) - as_utc(start)).total_seconds(), 0.0)
