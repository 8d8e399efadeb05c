"""A bound on the requests that wait (event streams, ``?wait=`` polls) in one gunicorn worker.

Each waiting request holds one of the worker's gthread threads for as long as it waits; without a
bound, a handful of clients would leave no thread for short requests. A request that finds every
slot taken answers 503 with Retry-After at once instead of queueing behind the others.
"""

from __future__ import annotations

import threading

from flask import Response

from app.errors import body
from contracts.settings import get_settings

RETRY_AFTER_SECONDS = 5
_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    with _lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(get_settings().stream_slots_per_worker())
        return _slots


def take_slot() -> threading.BoundedSemaphore | None:
    """A slot the caller must give back (``release()``), or None when all are taken."""
    slots = _semaphore()
    return slots if slots.acquire(blocking=False) else None


def busy() -> Response:
    """The answer when every slot is taken: 503, Retry-After, and what to do instead."""
    limit = get_settings().stream_slots_per_worker()
    reply, status = body(503, f"this API worker already serves {limit} waiting requests (event "
                         "streams and ?wait= polls); retry later, or poll without waiting",
                         retry_after=RETRY_AFTER_SECONDS)
    reply.status_code = status
    reply.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return reply


def reset_slots() -> None:
    """Forget the bound (tests that change the setting)."""
    global _slots
    with _lock:
        _slots = None
