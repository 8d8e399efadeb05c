"""Per-project limits on dispatched work: how many tasks a project may have sent or running at
once, and how many GPUs it may hold (a GPU reservation or a running task on a GPU). The
dispatcher asks ``refusal`` before it places a task; a task over its project's limit stays
QUEUED, unsent, with the reason, and is placed when its project's work finishes."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session

from contracts.settings import get_settings
from dao.tables import Project, Task
from contracts.statuses import TaskStatus

S = TaskStatus
IN_FLIGHT = or_(Task.status.in_([S.RUNNING.value, S.STOPPING.value]),
                and_(Task.status == S.QUEUED.value, Task.published_at.is_not(None)))
ON_GPU = or_(and_(Task.status == S.QUEUED.value, Task.worker.is_not(None)),
             and_(Task.status.in_([S.RUNNING.value, S.STOPPING.value]), Task.device.is_not(None),
                  not_(Task.device.like("cpu%"))))


@dataclass(frozen=True)
class Limits:
    max_running: int | None  # None: no limit
    max_gpus: int | None


# A limit changed through the API applies everywhere within TRAINYARD_PROJECT_LIMITS_CACHE_SECONDS.
_cache: dict[str, tuple[tuple[int | None, int | None] | None, float]] = {}


def _own_limits(session: Session, project_id: str) -> tuple[int | None, int | None] | None:
    """The project row's (max_running, max_gpus), None without a row; remembered briefly per
    process (``project_limits_cache_seconds``), so the submit path does not read it every time."""
    now = time.monotonic()
    hit = _cache.get(project_id)
    if hit is not None and hit[1] > now:
        return hit[0]
    row = session.execute(select(Project.max_running, Project.max_gpus).where(Project.id == project_id)).first()
    own = None if row is None else (row.max_running, row.max_gpus)
    ttl = get_settings().project_limits_cache_seconds
    if ttl <= 0:
        _cache.pop(project_id, None)
        return own
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[project_id] = (own, now + ttl)
    return own


def forget(project_id: str) -> None:
    _cache.pop(project_id, None)


def limits_of(session: Session, project_id: str, default_running: int, default_gpus: int) -> Limits | None:
    """The project's limits, None when it has none (or no row)."""
    own = _own_limits(session, project_id)
    if own is None:
        return None
    running = own[0] if own[0] is not None else default_running
    gpus = own[1] if own[1] is not None else default_gpus
    if not running and not gpus:
        return None
    return Limits(running or None, gpus or None)


def usage(session: Session, project_id: str) -> tuple[int, int]:
    """(tasks sent or running, GPUs held) of the project."""
    row = session.execute(select(func.count(), func.count().filter(ON_GPU))
                          .where(Task.proj_id == project_id, IN_FLIGHT)).one()
    return int(row[0]), int(row[1])


def refusal(session: Session, project_id: str, wants_gpu: bool, default_running: int,
            default_gpus: int) -> str | None:
    """Why the project may not dispatch one more task now, or None."""
    limits = limits_of(session, project_id, default_running, default_gpus)
    if limits is None:
        return None
    # Concurrent dispatchers of one project count one at a time: the row stays locked until the
    # placing transaction commits (with the task marked sent).
    session.execute(select(Project.id).where(Project.id == project_id).with_for_update())
    running, gpus = usage(session, project_id)
    if limits.max_running is not None and running >= limits.max_running:
        return f"waiting for project {project_id!r}: {running} of its {limits.max_running} tasks at once are running"
    if wants_gpu and limits.max_gpus is not None and gpus >= limits.max_gpus:
        return f"waiting for project {project_id!r}: it holds {gpus} of its {limits.max_gpus} GPUs"
    return None
