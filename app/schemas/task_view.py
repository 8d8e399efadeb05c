"""A task's rows as its reply models (``contracts.replies``: ``TaskSummary`` in the listing,
``TaskLight`` and ``TaskFull`` from GET /api/v0/tasks/<id>); the models are the shapes' one
definition, this module only fills them in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.schemas.original_states import mxserver_state, neuro_learn_status
from contracts import replies as r
from dao.clock import as_utc
from dao.tables import Task, TaskEpoch
from contracts.task_result import metrics_of


def iso(value: dt.datetime | None) -> str | None:
    value = as_utc(value)
    return None if value is None else value.isoformat()


def seconds_per_epoch(task: Task, recent: list[TaskEpoch]) -> float | None:
    """The observed wall time per epoch (training, evaluation, checkpoints, all of it) over the
    recent epochs of this attempt, newest first; the first epoch of an attempt is timed from
    the attempt's start."""
    rows = [r for r in recent if r.attempt == recent[0].attempt] if recent else []
    if len(rows) >= 2:
        span = (as_utc(rows[0].created_at) - as_utc(rows[-1].created_at)).total_seconds()
        return max(span, 0.0) / (rows[0].epoch - rows[-1].epoch)
    if rows and task.started_at is not None:
        return max((as_utc(rows[0].created_at) - as_utc(task.started_at)).total_seconds(), 0.0)
    return None


def progress(task: Task, recent: list[TaskEpoch]) -> r.Progress:
    """Epoch of epochs, percent, and while it runs the ETA: the observed rate over recent
    epochs times the epochs left, counted from the latest epoch's end (``eta_at``), so it
    changes only when an epoch ends."""
    total = task.epochs_total or 0
    done = min(task.epochs_done or 0, total) if total else task.epochs_done or 0
    eta = eta_at = None
    per_epoch = seconds_per_epoch(task, recent) if task.status in ("RUNNING", "STOPPING") and total else None
    if per_epoch is not None:
        eta = round(per_epoch * max(total - done, 0), 1)
        eta_at = iso(as_utc(recent[0].created_at) + dt.timedelta(seconds=eta))
    return r.Progress(epoch=done, epochs=total, percent=round(100.0 * done / total, 1) if total else 0.0,
                      eta_seconds=eta, eta_at=eta_at)


def _summary_fields(task: Task) -> dict[str, Any]:
    form = task.form
    return dict(
        task_id=task.id, proj_id=task.proj_id, proj_name=task.proj_name,
        task_name=task.task_name, task_type=task.task_type, model=task.model,
        backend=task.backend, status=task.status, task_status=neuro_learn_status(task),
        attempt=task.attempt,
        param_set=form.get("param_set", {}),
        train_data=form.get("train_data", []), val_data=form.get("val_data", []),
        enable_test=form.get("enable_test", False), test_data=form.get("test_data", []),
        parent_task_id=task.parent_task_id, sweep_id=task.sweep_id,
        metrics=metrics_of(task.result),
        test_on_seen_subjects=bool((task.result or {}).get("test_on_seen_subjects")),
        created_at=iso(task.created_at), finished_at=iso(task.finished_at),
    )


def summary(task: Task) -> r.TaskSummary:
    """The row as the listing shows it: identity, state, hyper-parameters, headline metrics."""
    return r.TaskSummary(**_summary_fields(task))


def _links(task: Task) -> r.Links:
    return r.Links(
        self=f"/api/v0/tasks/{task.id}",
        full=f"/api/v0/tasks/{task.id}?view=full",
        epochs=f"/api/v0/tasks/{task.id}/epochs",
        stop=f"/api/v0/tasks/{task.id}/stop",
        model=f"/api/v0/tasks/{task.id}/model",
        curves=f"/api/v0/tasks/{task.id}/plots/curves.png",
        confusion=f"/api/v0/tasks/{task.id}/plots/confusion.png",
    )


def light(task, recent: list[TaskEpoch], metrics: dict[str, Any],  # noqa: ANN001
          queue_position: int | None, mx_phases: list | None = None) -> r.TaskLight:
    """The default poll from ``task_queries.poll_row`` (a row with the task's attribute names):
    what changes while a task runs, its headline metrics, links to the rest. Nothing in it
    changes unless the task does (no heartbeat, no clock), so its ETag is stable."""
    mx = {"mxserver": mxserver_state(task, iso, mx_phases or [])} if task.source == "mxserver" else {}
    return r.TaskLight(
        task_id=task.id, status=task.status, task_status=neuro_learn_status(task),
        task_type=task.task_type, model=task.model, backend=task.backend, attempt=task.attempt,
        sweep_id=task.sweep_id,
        progress=progress(task, recent),
        latest_epoch=recent[0].metrics if recent else None,
        metrics=metrics_of(metrics), error=task.error,
        waiting_reason=task.waiting_reason if task.status == "QUEUED" else None,
        queue_position=queue_position,
        created_at=iso(task.created_at), started_at=iso(task.started_at),
        finished_at=iso(task.finished_at), links=_links(task), **mx,
    )


def detail(task: Task, recent: list[TaskEpoch], queue_position: int | None,
           mx_phases: list | None = None) -> r.TaskFull:
    """``?view=full``: the listing's row, the light view's progress, the whole result."""
    latest = recent[0] if recent else None
    mx = {"mxserver": mxserver_state(task, iso, mx_phases or [])} if task.form.get("source") == "mxserver" else {}
    return r.TaskFull(
        **_summary_fields(task),
        progress=progress(task, recent),
        latest_epoch=None if latest is None else latest.metrics,
        result=task.result, error=task.error,
        waiting_reason=task.waiting_reason if task.status == "QUEUED" else None,
        queue_position=queue_position, worker=task.worker, device=task.device,
        started_at=iso(task.started_at), heartbeat_at=iso(task.heartbeat_at),
        updated_at=iso(task.updated_at),
        links=_links(task), **mx,
    )
