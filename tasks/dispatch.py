"""Sending queued tasks where they fit. Called by the API for a new task, by a worker when it
frees up, and by the reaper on every sweep; concurrent dispatchers are safe because both the
worker reservation and the task's publish mark are compare-and-set updates."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dao import project_limits, task_queries, task_transitions, worker_queries
from dao.db import session_scope
from contracts.settings import get_settings
from dao.tables import Task, utcnow
from contracts.statuses import TaskStatus
from tasks.placement import Placement, Requirements, direct_queue, place
from tasks.publish import PublishError, publish_task

log = logging.getLogger(__name__)
QUEUED = TaskStatus.QUEUED.value


@dataclass(frozen=True)
class Sendable:
    """A placed task whose message is due once the placing transaction has committed."""

    task_id: str
    backend: str
    queue: str
    worker: str | None
    front: bool = False  # a recovered task: it goes ahead of the tasks queued after it


def queue_new_task(session: Session, task_id: str | None = None,
                   **fields: Any) -> tuple[str, Sendable | None, str | None]:
    """Insert a new QUEUED task already placed (one INSERT, plus a worker reservation for a
    GPU placement), under ``task_id`` when the caller chose one (an existing id raises
    IntegrityError). Returns (task id, what to send after commit or None, why it waits)."""
    task_id = task_id or task_queries.new_task_id()
    placement = reserve_placement(session, task_id, fields["backend"], fields["queue"],
                                  Requirements.from_form(fields["form"]), fields.get("proj_id"))
    placed, now = placement.queue is not None, utcnow()
    task_queries.insert_new_task(
        session, id=task_id, status=QUEUED, attempt=1, epochs_done=0, worker=placement.worker,
        created_at=now, updated_at=now, published_at=now if placed else None,
        waiting_reason=placement.reason, **fields)
    sendable = Sendable(task_id, fields["backend"], placement.queue, placement.worker) if placed else None
    return task_id, sendable, placement.reason


def reserve_placement(session: Session, task_id: str, backend: str, base_queue: str,
                      req: Requirements, proj_id: str | None = None) -> Placement:
    """Decide where the task goes and, for a GPU worker, reserve it (compare-and-set). A task
    whose project is at its limit (dao.project_limits) waits."""
    settings = get_settings()
    workers = _worker_slots(session, settings.lease_seconds, backend, settings.no_gpu_memory_seconds)
    taken: set[str] = set()
    for _ in range(3):
        placement = place(base_queue, req, workers, frozenset(taken), settings.auto_device_for(backend))
        if placement.queue is not None and proj_id is not None:
            reason = project_limits.refusal(session, proj_id, placement.worker is not None,
                                            settings.project_max_running, settings.project_max_gpus)
            if reason is not None:
                return Placement(None, None, reason)
        if placement.worker is None or worker_queries.reserve_worker(session, placement.worker, task_id):
            return placement
        taken.add(placement.worker)
    return Placement(None, None, "waiting for a GPU: every fitting GPU was just taken")


# Backends seen without any GPU worker, until when: on a CPU-only fleet placement is always
# "the shared queue", so the submit path skips the workers query for
# TRAINYARD_NO_GPU_MEMORY_SECONDS (1 s). A GPU worker that joins is seen within that time (and
# the reaper re-dispatches tasks sent meanwhile to a queue no live worker consumes).
_no_gpu_until: dict[str, float] = {}


def forget_fleet() -> None:
    """Forget the backends seen without a GPU worker (a process pointed at another database)."""
    _no_gpu_until.clear()


def _worker_slots(session: Session, lease_seconds: float, backend: str,
                  no_gpu_memory_seconds: float) -> list:
    if time.monotonic() < _no_gpu_until.get(backend, 0.0):
        return []
    slots = worker_queries.live_worker_slots(session, lease_seconds, backend)
    if not any(slot.gpus for slot in slots) and no_gpu_memory_seconds > 0:
        _no_gpu_until[backend] = time.monotonic() + no_gpu_memory_seconds
    return slots


def place_in_session(session: Session, task: Task) -> tuple[Sendable | None, str | None]:
    """Choose a queue for a QUEUED, unpublished task and mark it published (same transaction).
    Returns (what to send after commit, or None with the reason it waits)."""
    placement = reserve_placement(session, task.id, task.backend, task.queue,
                                  Requirements.from_form(task.form), task.proj_id)
    return _mark(session, task, placement)


def _mark(session: Session, task: Task, placement: Placement) -> tuple[Sendable | None, str | None]:
    if placement.queue is None:
        task_transitions.note_waiting(session, task.id, placement.reason)
        return None, placement.reason
    if not task_transitions.mark_sent(session, task.id, placement.worker):  # another dispatcher sent it first
        if placement.worker is not None:
            worker_queries.release_worker(session, placement.worker, task.id)
        return None, None
    # A task that started before (its worker died or handed it back) was already at the head.
    recovered = task.started_at is not None
    return Sendable(task.id, task.backend, placement.queue, placement.worker, recovered), None


def send(item: Sendable) -> bool:
    """Publish a placed task; on failure undo its publish mark and reservation (the next
    sweep retries). Returns whether the broker took it."""
    try:
        publish_task(item.task_id, item.backend, item.queue, front=item.front)
        return True
    except PublishError:
        try:
            with session_scope() as session:
                task_transitions.unmark_sent(session, item.task_id)
                if item.worker is not None:
                    worker_queries.release_worker(session, item.worker, item.task_id)
        except Exception as exc:  # noqa: BLE001 - the reaper finds a marked task whose message is missing
            log.warning("task %s: publish failed and its mark could not be undone: %s", item.task_id, exc)
        return False


def dispatch_waiting(limit: int = 200) -> list[str]:
    """Place and publish QUEUED tasks that have no message yet, projects taking turns (a burst
    from one project does not hold back another's work). Recovered tasks are sent last and
    newest first: each goes to the head of its queue, so the oldest ends up first."""
    placed = []
    with session_scope() as session:
        ids = session.scalars(_in_turn(limit)).all()
    for task_id in ids:
        with session_scope() as session:
            task = session.scalars(select(Task).where(Task.id == task_id, Task.status == QUEUED,
                                                      Task.published_at.is_(None))
                                   .with_for_update(skip_locked=True)).first()
            item = None if task is None else place_in_session(session, task)[0]
        if item is not None:
            placed.append(item)
    in_order = [i for i in placed if not i.front] + [i for i in reversed(placed) if i.front]
    return [item.task_id for item in in_order if send(item)]


def _in_turn(limit: int):  # noqa: ANN202 - a Select
    """Waiting tasks in the order projects take turns: every project's oldest waiting task
    before any project's second, ...; among projects on the same turn, the one served longest
    ago (its latest dispatch the oldest, never first), then the oldest task."""
    waiting = (select(Task.id, Task.proj_id, Task.created_at,
                      func.row_number().over(partition_by=Task.proj_id,
                                             order_by=(Task.created_at, Task.id)).label("turn"))
               .where(Task.status == QUEUED, Task.published_at.is_(None)).subquery())
    served = (select(Task.proj_id, func.max(Task.published_at).label("last"))
              .where(Task.proj_id.in_(select(waiting.c.proj_id))).group_by(Task.proj_id).subquery())
    return (select(waiting.c.id).outerjoin(served, served.c.proj_id == waiting.c.proj_id)
            .order_by(waiting.c.turn, served.c.last.asc().nulls_first(), waiting.c.created_at, waiting.c.id)
            .limit(limit))


def message_queue(task: Task) -> str:
    """The queue a QUEUED task's message sits in."""
    return direct_queue(task.queue, task.worker) if task.worker else task.queue
