"""Queueing a checked task, for every route that submits one (new_task, MXServer's /train and
/eval): the row is written, already placed, in the caller's transaction, and its message goes out
once that transaction has committed, so a worker always finds the row it is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tasks.dispatch import Sendable, queue_new_task, send


@dataclass(frozen=True)
class Queued:
    task_id: str
    sendable: Sendable | None  # None: it fits nowhere yet (``waiting`` says why) or waits for the dispatcher
    waiting: str | None


def queue(session: Session, row: dict[str, Any], task_id: str | None = None) -> Queued:
    """Insert the task row (``tasks.dispatch.queue_new_task``'s fields) under ``task_id`` when
    the client chose one. An id already taken raises IntegrityError at the commit or before."""
    return Queued(*queue_new_task(session, task_id=task_id, **row))


def send_after_commit(queued: Queued) -> str:
    """Send the task's message; what to tell the client. A task that fits nowhere yet, or whose
    broker is away, stays QUEUED without a message, and the dispatcher sends it when something
    frees (or the broker returns)."""
    if queued.sendable is None:
        return "task queued" if queued.waiting is None else f"task queued; {queued.waiting}"
    if send(queued.sendable):
        return "task queued"
    return "task accepted; the queue is unreachable right now, it will be dispatched when it returns"
