"""Publishing Celery messages (tasks, image imports). The API imports this module and
``tasks.dispatch``, which decides where a task goes; neither imports a framework."""

from __future__ import annotations

import logging

from dao.settings import get_settings
from tasks.celery_app import IMPORT_IMAGES, RUN_MXNET_TASK, RUN_TORCH_TASK, get_celery

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker did not take the message."""


def queue_for(backend: str) -> str:
    settings = get_settings()
    return settings.mxnet_queue if backend == "mxnet" else settings.torch_queue


def publish_task(task_id: str, backend: str, queue: str | None = None) -> None:
    """Send ``run_task(task_id)`` to the backend's queue. Raises PublishError."""
    name = RUN_MXNET_TASK if backend == "mxnet" else RUN_TORCH_TASK
    try:
        get_celery().send_task(name, args=[task_id], queue=queue or queue_for(backend),
                               retry=True, ignore_result=True)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        log.warning("task %s: publish failed: %s", task_id, exc)
        raise PublishError(str(exc)) from exc


def imports_queue() -> str:
    """Image-upload validations: every MXNet worker consumes it, GPU-pinned ones included."""
    return f"{get_settings().mxnet_queue}.imports"


def publish_image_import(dataset_name: str) -> None:
    """Send ``import_images(dataset_name)`` (validation of a stored image upload) to the MXNet
    queue. Raises PublishError."""
    try:
        get_celery().send_task(IMPORT_IMAGES, args=[dataset_name], queue=imports_queue(),
                               retry=True, ignore_result=True)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        log.warning("dataset %s: publish failed: %s", dataset_name, exc)
        raise PublishError(str(exc)) from exc


def broker_queue_depth(queue: str) -> int | None:
    """Messages waiting in a queue (not those a worker holds); None if the broker is away."""
    try:
        with get_celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            with conn.channel() as channel:
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
