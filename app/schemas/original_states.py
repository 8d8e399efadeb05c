"""The originals' names for a task's state, shown beside trainyard's so that clients written for
them can read a task: NEURO-LEARN's ``task_status`` and MXServer's state code and description."""

from __future__ import annotations

from typing import Any

from dao.tables import Task

# NEURO-LEARN wrote Submitted, Running, Success and Failed; it had no stop, so a stopped task
# (terminal, without a result) reads as Failed there.
NEURO_LEARN = {"QUEUED": "Submitted", "RUNNING": "Running", "STOPPING": "Running",
               "SUCCEEDED": "Success", "FAILED": "Failed", "STOPPED": "Failed"}

# MXServer's executor states (state_code "0" unless the task failed).
MXSERVER = {"QUEUED": ("0", "OK_TO_RUN"), "RUNNING": ("0", "TASK_BEGIN_RUNNING"),
            "STOPPING": ("0", "TASK_BEGIN_RUNNING"), "SUCCEEDED": ("0", "TASK_DONE_SUCCESSFULLY"),
            "FAILED": ("1", "TASK_TERMINATED_BY_INTERNAL_ERROR"), "STOPPED": ("0", "TASK_TERMINATED_MANUALLY")}


def neuro_learn_status(task: Task) -> str:
    return NEURO_LEARN[task.status]


def mxserver_state(task: Task, iso) -> dict[str, Any]:  # noqa: ANN001 - the view's time formatter
    """MXServer's state now and the states passed, with when (its ``task_progresses``)."""
    code, desc = MXSERVER[task.status]
    passed = [("OK_TO_RUN", task.created_at)]
    if task.started_at is not None:
        passed.append(("TASK_BEGIN_RUNNING", task.started_at))
    if task.finished_at is not None and task.status in ("SUCCEEDED", "FAILED", "STOPPED"):
        passed.append((desc, task.finished_at))
    return {"task_id": task.id, "state_code": code, "state_desc": desc,
            "task_progresses": [{"time": iso(t), "task_state": s} for s, t in passed]}
