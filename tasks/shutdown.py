"""Graceful shutdown: SIGTERM sets a flag that the running job sees at its next batch; it
then saves its checkpoint and hands the task back to the queue instead of losing the epoch."""

from __future__ import annotations

import logging
import threading

from celery import signals

log = logging.getLogger(__name__)
_shutting_down = threading.Event()


def shutting_down() -> bool:
    return _shutting_down.is_set()


def begin_shutdown() -> None:
    _shutting_down.set()


@signals.worker_shutting_down.connect
def _on_worker_shutting_down(sig=None, how=None, **_kwargs) -> None:  # noqa: ANN001
    log.info("worker shutting down (%s, %s): the running task will be handed back", sig, how)
    begin_shutdown()
    from tasks import worker_identity

    # Not in the signal handler itself: it may have interrupted this thread inside the
    # connection pool, whose lock is not re-entrant.
    threading.Thread(target=worker_identity.leave, name="worker-leave", daemon=True).start()
