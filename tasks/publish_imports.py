"""Publishing the validation of an image upload to the MXNet queue. The API imports this module
(like ``tasks.publish``): it imports Celery and our settings, no framework."""

from __future__ import annotations

import logging

from tasks.celery_app import IMPORT_IMAGES, get_celery
from tasks.publish import PublishError, queue_for

log = logging.getLogger(__name__)


def publish_image_import(dataset_name: str) -> None:
    """Send ``import_images(dataset_name)`` to the MXNet queue. Raises PublishError."""
    try:
        get_celery().send_task(IMPORT_IMAGES, args=[dataset_name], queue=queue_for("mxnet"),
                               retry=True, ignore_result=True)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        log.warning("dataset %s: publish failed: %s", dataset_name, exc)
        raise PublishError(str(exc)) from exc
