"""Who this worker is, which GPUs it is pinned to, and what it runs: kept in the ``workers``
table by a heartbeat thread so the API can list live workers and their GPUs."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator

from celery import signals

from dao import worker_queries
from dao.db import session_scope
from dao.settings import get_settings

log = logging.getLogger(__name__)
_state = {"name": "", "task": None, "queues": [], "backend": "torch"}
_stop = threading.Event()


def name() -> str:
    return _state["name"] or get_settings().worker_name or f"worker@{socket.gethostname()}:{os.getpid()}"


@contextlib.contextmanager
def running(task_id: str) -> Iterator[None]:
    _state["task"] = task_id
    try:
        _beat_once()
        yield
    finally:
        _state["task"] = None
        _beat_once()


def _gpus() -> list[dict]:
    from tasks.gpu_inventory import read_gpus

    return [g if isinstance(g, dict) else g.as_dict() for g in read_gpus()]


def _beat_once() -> None:
    try:
        with session_scope() as session:
            worker_queries.upsert_worker(
                session, name(), host=socket.gethostname(), backend=_state["backend"],
                queues=list(_state["queues"]), gpus=_gpus(), current_task_id=_state["task"])
    except Exception as exc:  # noqa: BLE001 - inventory must never stop training
        log.warning("worker heartbeat failed: %s", exc)


def _beat_forever() -> None:
    while not _stop.wait(get_settings().heartbeat_seconds):
        _beat_once()


@signals.worker_ready.connect
def _on_ready(sender=None, **_kwargs) -> None:  # noqa: ANN001
    _state["name"] = get_settings().worker_name or sender.hostname
    _state["queues"] = sorted(q.name for q in sender.app.amqp.queues.consume_from.values()) \
        if sender.app.amqp.queues.consume_from else []
    _state["backend"] = os.environ.get("TRAINYARD_BACKEND", "torch")
    _beat_once()
    threading.Thread(target=_beat_forever, name="worker-heartbeat", daemon=True).start()


@signals.worker_shutdown.connect
def _on_shutdown(**_kwargs) -> None:
    _stop.set()
    try:
        with session_scope() as session:
            worker_queries.remove_worker(session, name())
    except Exception as exc:  # noqa: BLE001
        log.warning("could not remove worker row: %s", exc)
