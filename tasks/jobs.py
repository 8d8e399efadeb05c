"""The torch worker's Celery job: a thin wrapper that hands a task id to the runner with the
torch backend (ids, never rows). The MXNet worker's job is in tasks/mx_jobs.py."""

from __future__ import annotations

from celery import shared_task

from tasks.celery_app import RUN_TORCH_TASK


@shared_task(name=RUN_TORCH_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_task(task_id: str) -> str:
    from tasks.runner import run_here
    from tasks.torch_backend import TORCH

    return run_here(task_id, TORCH)
