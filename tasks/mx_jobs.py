"""The MXNet worker's Celery jobs: run an MXNet task through the shared runner, and validate a
stored image upload. Thin wrappers taking ids/names, never rows."""

from __future__ import annotations

import logging

from celery import shared_task

from tasks.celery_app import IMPORT_IMAGES, RUN_MXNET_TASK

log = logging.getLogger(__name__)


@shared_task(name=RUN_MXNET_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_mx_task(task_id: str) -> str:
    from tasks.mx_backend import MXNET
    from tasks.runner import run_here

    return run_here(task_id, MXNET)


@shared_task(name=IMPORT_IMAGES, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def import_images(dataset_name: str) -> str:
    from tasks.image_imports import import_images as validate

    outcome = validate(dataset_name)
    log.info("dataset %s: %s", dataset_name, outcome)
    return outcome
