"""The public shape of a task, as GET /api/v0/tasks/<id> and the listing return it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.schemas.original_states import mxserver_state, neuro_learn_status
from dao.clock import as_utc
from dao.tables import Task, TaskEpoch


def iso(value: dt.datetime | None) -> str | None:
    value = as_utc(value)
    return None if value is None else value.isoformat()


def progress(task: Task, latest: TaskEpoch | None) -> dict[str, Any]:
    total = task.epochs_total or 0
    done = min(task.epochs_done or 0, total) if total else task.epochs_done or 0
    eta = None
    if latest is not None and task.status in ("RUNNING", "STOPPING") and total:
        seconds = float(latest.metrics.get("seconds") or 0.0)
        eta = round(seconds * max(total - done, 0), 1)
    return {"epoch": done, "epochs": total,
            "percent": round(100.0 * done / total, 1) if total else 0.0, "eta_seconds": eta}


def summary(task: Task) -> dict[str, Any]:
    """The row as the listing shows it: identity, state, hyper-parameters, headline metrics."""
    form = task.form
    return {
        "task_id": task.id, "proj_id": task.proj_id, "proj_name": task.proj_name,
        "task_name": task.task_name, "task_type": task.task_type, "model": task.model,
        "backend": task.backend, "status": task.status, "task_status": neuro_learn_status(task),
        "attempt": task.attempt,
        "param_set": form.get("param_set", {}),
        "train_data": form.get("train_data", []), "val_data": form.get("val_data", []),
        "enable_test": form.get("enable_test", False), "test_data": form.get("test_data", []),
        "parent_task_id": task.parent_task_id,
        "metrics": _headline(task.result),
        "created_at": iso(task.created_at), "finished_at": iso(task.finished_at),
    }


def _headline(result: dict[str, Any] | None) -> dict[str, Any]:
    if not result:
        return {}
    return {k: v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def detail(task: Task, latest: TaskEpoch | None, queue_position: int | None) -> dict[str, Any]:
    view = summary(task)
    view.update(
        progress=progress(task, latest),
        latest_epoch=None if latest is None else latest.metrics,
        result=task.result, error=task.error,
        waiting_reason=task.waiting_reason if task.status == "QUEUED" else None,
        queue_position=queue_position, worker=task.worker, device=task.device,
        started_at=iso(task.started_at), heartbeat_at=iso(task.heartbeat_at),
        updated_at=iso(task.updated_at),
        links={
            "self": f"/api/v0/tasks/{task.id}",
            "epochs": f"/api/v0/tasks/{task.id}/epochs",
            "stop": f"/api/v0/tasks/{task.id}/stop",
            "model": f"/api/v0/tasks/{task.id}/model",
            "curves": f"/api/v0/tasks/{task.id}/plots/curves.png",
            "confusion": f"/api/v0/tasks/{task.id}/plots/confusion.png",
        },
    )
    if task.form.get("source") == "mxserver":
        view["mxserver"] = mxserver_state(task, iso)
    return view
