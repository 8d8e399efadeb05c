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
# A failure while preparing the data or building the network has MXServer's own name.
FAILED_IN = {"TASK_BEGIN_PREPARE_DATA": "TASK_BEGIN_PREPARE_DATA_FAILED",
             "TASK_PREPARE_DATA_DONE": "TASK_EXECUTOR_CREATION_FAILED"}


def neuro_learn_status(task: Task) -> str:
    return NEURO_LEARN[task.status]


def mxserver_state(task: Task, iso, phases: list) -> dict[str, Any]:  # noqa: ANN001 - the time formatter
    """MXServer's state now and the states passed, with when (its ``task_progresses``).
    ``phases``: the (attempt, at, message) lines the MXNet worker logged at each phase of the job
    (dao.log_queries.mxserver_states): preparing data, network built, training, saving."""
    code, desc = MXSERVER[task.status]
    current = [p for p in phases if p.attempt == task.attempt]
    passed = [("OK_TO_RUN", task.created_at)] + [(p.message, p.at) for p in phases]
    if not phases and task.started_at is not None:
        passed.append(("TASK_BEGIN_RUNNING", task.started_at))
    if task.status in ("RUNNING", "STOPPING") and current:
        desc = current[-1].message
    if task.status == "FAILED" and current and current[-1].message in FAILED_IN:
        desc = FAILED_IN[current[-1].message]
    if task.finished_at is not None and task.status in ("SUCCEEDED", "FAILED", "STOPPED"):
        passed.append((desc, task.finished_at))
    return {"task_id": task.id, "state_code": code, "state_desc": desc,
            "task_progresses": [{"time": iso(t), "task_state": s} for s, t in passed]}
