"""The Celery jobs: thin wrappers that hand a task id to the runner (ids, never rows)."""

from __future__ import annotations

import logging

from celery import shared_task

from tasks import worker_identity
from tasks.celery_app import RUN_TORCH_TASK

log = logging.getLogger(__name__)


@shared_task(name=RUN_TORCH_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_task(task_id: str) -> str:
    from tasks.runner import execute

    with worker_identity.running(task_id):
        outcome = execute(task_id, worker_identity.name())
    log.info("task %s: %s", task_id, outcome)
    return outcome
