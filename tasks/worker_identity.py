"""Who this worker is, which GPUs it is pinned to, which queues it consumes, and what it holds:
kept in the ``workers`` table by a heartbeat thread, so the API lists live workers and their GPUs
and the dispatcher knows where a task fits.

A worker that sees a GPU consumes only its own queue (the dispatcher sends it exactly the work
that fits it); a CPU worker also consumes its backend's shared queue.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import threading
from collections.abc import Iterator

from celery import signals

from dao import worker_queries
from dao.db import session_scope
from contracts.settings import get_settings
from tasks import worker_metrics
from tasks.placement import direct_queue
from tasks.publish import imports_queue

log = logging.getLogger(__name__)
_state: dict = {"name": "", "backend": "torch", "queues": [], "has_gpus": False}
_stop = threading.Event()


def name() -> str:
    return _state["name"] or f"worker@{socket.gethostname()}:{os.getpid()}"


def backend() -> str:
    return get_settings().backend


def base_queue() -> str:
    settings = get_settings()
    return settings.mxnet_queue if backend() == "mxnet" else settings.torch_queue


def _read_gpus() -> list[dict]:
    """The GPU this worker trains on: the first it sees (``cuda:0``), so placement by its free
    memory is placement on the device the job will use."""
    from tasks.gpu_inventory import read_gpus

    return [dataclasses.asdict(g) for g in read_gpus()[:1]]


def gpus() -> list[dict]:
    """This worker's GPUs now; a worker that saw none at start does not ask NVML again."""
    return _read_gpus() if _state["has_gpus"] else []


@signals.celeryd_after_setup.connect
def _choose_queues(sender=None, instance=None, **_kwargs) -> None:  # noqa: ANN001
    _state["name"], _state["backend"] = str(sender), backend()
    queues = instance.app.amqp.queues
    queues.select_add(direct_queue(base_queue(), _state["name"]))
    if _state["backend"] == "mxnet":
        queues.select_add(imports_queue())
    _state["has_gpus"] = bool(_read_gpus())
    if _state["has_gpus"] and base_queue() in queues.consume_from:
        queues.deselect(base_queue())
    _state["queues"] = sorted(queues.consume_from)
    log.info("worker %s consumes %s", _state["name"], ", ".join(_state["queues"]))


@signals.worker_ready.connect
def _on_ready(**_kwargs) -> None:
    worker_metrics.start(name(), _state["backend"], get_settings().metrics_port)
    try:
        now = gpus()
        with session_scope() as session:
            worker_queries.register_worker(session, name(), host=socket.gethostname(),
                                           backend=_state["backend"], queues=_state["queues"], gpus=now)
        worker_metrics.heartbeat(now)
    except Exception as exc:  # noqa: BLE001 - the heartbeat thread retries
        log.warning("worker registration failed: %s", exc)
    threading.Thread(target=_beat_forever, name="worker-heartbeat", daemon=True).start()


def _beat_forever() -> None:
    while not _stop.wait(get_settings().heartbeat_seconds):
        try:
            now = gpus()
            with session_scope() as session:
                if not worker_queries.heartbeat_worker(session, name(), now) and not _stop.is_set():
                    worker_queries.register_worker(session, name(), host=socket.gethostname(),
                                                   backend=_state["backend"], queues=_state["queues"],
                                                   gpus=now)
            worker_metrics.heartbeat(now)
        except Exception as exc:  # noqa: BLE001 - inventory must never stop training
            log.warning("worker heartbeat failed: %s", exc)


@contextlib.contextmanager
def running(task_id: str) -> Iterator[None]:
    """Mark this worker busy with the task; afterwards free it and dispatch waiting work."""
    _set_current(task_id, busy=True)
    worker_metrics.busy(True)
    try:
        yield
    finally:
        worker_metrics.busy(False)
        _set_current(task_id, busy=False)
        _dispatch_waiting()


def _set_current(task_id: str, busy: bool) -> None:
    try:
        with session_scope() as session:
            if busy:
                worker_queries.occupy_worker(session, name(), task_id)
            else:
                worker_queries.release_worker(session, name(), task_id)
    except Exception as exc:  # noqa: BLE001
        log.warning("worker state not recorded: %s", exc)


def _dispatch_waiting() -> None:
    from tasks.dispatch import dispatch_waiting

    try:
        dispatch_waiting()
    except Exception as exc:  # noqa: BLE001 - the reaper's sweep dispatches too
        log.warning("dispatch after task failed: %s", exc)


def leave() -> None:
    """Stop heartbeating and drop out of the live list, so nothing more is dispatched here."""
    _stop.set()
    try:
        with session_scope() as session:
            worker_queries.remove_worker(session, name())
    except Exception as exc:  # noqa: BLE001
        log.warning("could not remove worker row: %s", exc)


@signals.worker_shutdown.connect
def _on_shutdown(**_kwargs) -> None:
    leave()
