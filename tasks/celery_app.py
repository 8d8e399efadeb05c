"""The Celery app, built from Settings. Celery is only the transport: the task row in the
database is the source of truth, so these settings aim at "never lose, never run twice"."""

from __future__ import annotations

import functools

from celery import Celery

from contracts.settings import Settings, get_settings

RUN_TORCH_TASK = "trainyard.run_task"
RUN_MXNET_TASK = "trainyard.run_mx_task"
IMPORT_IMAGES = "trainyard.import_images"  # validates a stored image upload, on the MXNet queue
EXPORT_MODEL = "trainyard.export_model"  # exports a deployed torch task to ONNX, on the torch queue
EXPORT_MX_MODEL = "trainyard.export_mx_model"  # exports a deployed MXNet task, on the MXNet imports queue
FRONT_HEADER = "trainyard_front"  # a message header: publish to the head of the queue (tasks.redis_transport)


def _transport_options(settings: Settings) -> dict:
    if settings.uses_filesystem_broker():
        folder = settings.broker_dir()
        (folder / "queue").mkdir(parents=True, exist_ok=True)
        (folder / "processed").mkdir(parents=True, exist_ok=True)
        (folder / "control").mkdir(parents=True, exist_ok=True)
        return {
            "control_folder": str(folder / "control"),
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            # kombu's default of 1 s made 50 tiny tasks take over 6 s.
            "polling_interval": settings.broker_poll_interval,
        }
    # Redis re-delivers an unacknowledged message after this long; long training jobs must
    # fit in it (celery#5935). The task-row claim makes any re-delivery a no-op anyway.
    return {"visibility_timeout": settings.visibility_timeout_seconds}


def make_celery(settings: Settings) -> Celery:
    app = Celery("trainyard", broker=settings.resolved_broker_url())
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        task_default_queue=settings.torch_queue,
        broker_transport_options=_transport_options(settings),
        broker_connection_retry_on_startup=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0,
                                   "interval_step": 0.2, "interval_max": 0.5},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_enable_remote_control=not settings.uses_filesystem_broker(),
        broker_heartbeat=0,
        imports=(),
    )
    if settings.uses_redis_broker():
        app.conf.broker_transport = "tasks.redis_transport:Transport"
    elif settings.uses_filesystem_broker():
        app.conf.broker_transport = "tasks.filesystem_transport:Transport"
    return app


@functools.lru_cache(maxsize=1)
def get_celery() -> Celery:
    return make_celery(get_settings())


def reset_celery() -> None:
    get_celery.cache_clear()
