"""The PyTorch backend of the runner: connectome datasets → JobSpec → models.engine.run_job.

torch is imported inside the functions, never when a worker starts (celery#3402).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dao.tables import Task
from models.job import JobHooks, JobOutcome, JobSpec
from tasks.backends import Backend, JobInputs


def _pick_device(_task: Task) -> str:
    from models.engine import pick_device

    return str(pick_device())


def _load(session: Session, task: Task, _device: str) -> JobInputs:
    """Raises what tasks.job_inputs.load_inputs raises."""
    from tasks.job_inputs import load_inputs

    return load_inputs(session, task)


def _run(spec: JobSpec, hooks: JobHooks, device: str) -> JobOutcome:
    from models.engine import run_job

    try:
        return run_job(spec, hooks, device)
    finally:
        _release_gpu_memory()


def _release_gpu_memory() -> None:
    """Hand cached CUDA memory back, so NVML's free memory (what placement reads) is true
    for the next task. Without CUDA there is nothing to hand back, and the full collection
    (about 0.3 s in a worker's large heap) would be most of a small task's time."""
    import gc

    import torch

    if torch.cuda.is_available():
        gc.collect()  # the task's tensors held in reference cycles, before the cache is emptied
        torch.cuda.empty_cache()


def _pictures(task_id: str, outcome: JobOutcome) -> None:
    from tasks.pictures import store_pictures

    store_pictures(task_id, outcome)


TORCH = Backend("torch", _pick_device, _load, _run, _pictures)
