"""Publishing Celery messages (tasks, image imports). The API imports this module and
``tasks.dispatch``, which decides where a task goes; neither imports a framework."""

from __future__ import annotations

import logging

from contracts.settings import get_settings
from tasks import redis_publish
from tasks.celery_app import (EXPORT_MODEL, EXPORT_MX_MODEL, FRONT_HEADER, IMPORT_IMAGES, RUN_MXNET_TASK,
                              RUN_TORCH_TASK, get_celery)

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker did not take the message."""


def queue_for(backend: str) -> str:
    settings = get_settings()
    return settings.mxnet_queue if backend == "mxnet" else settings.torch_queue


def publish_task(task_id: str, backend: str, queue: str | None = None, front: bool = False) -> None:
    """Send ``run_task(task_id)`` to the backend's queue (or the given one); ``front``: to its
    head, taken before every message already there (Redis only, see tasks.redis_transport).
    Raises PublishError."""
    name = RUN_MXNET_TASK if backend == "mxnet" else RUN_TORCH_TASK
    _send(name, task_id, queue or queue_for(backend), f"task {task_id}", front)


def _send(name: str, arg: str, queue: str, what: str, front: bool = False) -> None:
    settings = get_settings()
    url = settings.resolved_broker_url()
    error: Exception | None = None
    # Two tries: kombu's filesystem transport fails the first publish to a queue a process has
    # not used before with an AttributeError that its own retry policy does not cover; a
    # pooled Redis connection the server closed fails once and is replaced.
    for _ in range(2):
        try:
            if settings.uses_redis_broker():
                redis_publish.push(url, queue, redis_publish.task_message(get_celery(), name, arg, queue, front), front)
            else:
                get_celery().send_task(name, args=[arg], queue=queue, retry=True, ignore_result=True,
                                       headers={FRONT_HEADER: True} if front else None)
            return
        except Exception as exc:  # kombu and redis raise several types for an unreachable broker
            error = exc
    log.warning("%s: publish failed: %s", what, error, exc_info=log.isEnabledFor(logging.DEBUG))
    raise PublishError(str(error)) from error


def imports_queue() -> str:
    """Image-upload validations: every MXNet worker consumes it, GPU-pinned ones included."""
    return f"{get_settings().mxnet_queue}.imports"


def publish_image_import(dataset_name: str) -> None:
    """Send ``import_images(dataset_name)`` (validation of a stored image upload) to the
    imports queue. Raises PublishError."""
    _send(IMPORT_IMAGES, dataset_name, imports_queue(), f"dataset {dataset_name}")


def publish_export(model_id: int, backend: str = "torch") -> None:
    """Send the ONNX export and verification of a deployed task: ``export_model(model_id)`` to
    the torch queue, or ``export_mx_model`` to the MXNet imports queue (every MXNet worker
    consumes it; an export is short, as a validation is). Raises PublishError."""
    if backend == "mxnet":
        _send(EXPORT_MX_MODEL, str(model_id), imports_queue(), f"model {model_id}")
    else:
        _send(EXPORT_MODEL, str(model_id), get_settings().torch_queue, f"model {model_id}")


def broker_queue_depth(queue: str) -> int | None:
    """Messages waiting in a queue (not those a worker holds); None if the broker is away."""
    try:
        # The pool's connection and its default channel, left open: closing a channel of
        # its own broke the next publish on kombu's filesystem transport.
        with get_celery().pool.acquire(block=True, timeout=5) as conn:
            channel = conn.default_channel
            return int(channel.queue_declare(queue=queue, durable=True, auto_delete=False).message_count)
    except Exception as exc:  # noqa: BLE001 - an absent queue or broker both mean "unknown"
        log.info("queue %s: depth unknown: %s", queue, exc)
        return None


def broker_reachable() -> bool:
    try:
        with get_celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        return False


# Markers this process left in the broker (see broker_lost_its_data).
_markers_set: set[str] = set()


def broker_lost_its_data() -> bool:
    """True when the Redis broker lost its keys since this process's last call (a restart
    without its data, a flush): the marker key this process left there is gone. Sets the
    marker again. Always False on the first call and for a broker other than Redis."""
    import redis

    settings = get_settings()
    if not settings.uses_redis_broker():
        return False
    url = settings.resolved_broker_url()
    key = f"trainyard.broker-marker.{settings.torch_queue}"
    try:
        created = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).set(key, "1", nx=True)
    except redis.RedisError as exc:
        log.info("broker marker unreadable: %s", exc)
        return False
    seen_before = key in _markers_set
    _markers_set.add(key)
    return bool(created) and seen_before
