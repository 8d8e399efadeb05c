"""The MXNet backend of the runner: image datasets → MxJobSpec → models.mxnet_backend.run_mx_job.

Runs in the MXNet worker's own environment: mxnet is imported inside the functions (never
before the worker forks), torch never.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from dao.log_queries import MXSERVER_STATE_LOGGER

from dao.tables import Task
from models.job import JobHooks, JobOutcome
from contracts.task_needs import Requirements
from contracts.task_result import DETECTION_SCORES, TEST_PREFIXES, result_json
from tasks.backends import Backend, JobInputs

# MXServer's executor states, as its worker records them while a task runs (its
# task_progresses); stored as log lines of the task, read back by the task view.
states = logging.getLogger(MXSERVER_STATE_LOGGER)
PHASE_STATES = {"built": "TASK_EXECUTOR_CREATION_DONE", "training": "TASK_BEGIN_RUNNING",
                "evaluating": "TASK_BEGIN_RUNNING"}


def wanted_device(form: dict) -> str:
    """"gpu", "cpu" or "auto", from the stored ``requirements`` (MXServer's ``context``)."""
    return Requirements.from_form(form).device


def _pick_device(task: Task) -> str:
    """gpu(0) — the worker's own GPU, pinned by CUDA_VISIBLE_DEVICES — when the request wants a
    GPU, or wants any device and this worker sees a GPU; else the CPU. A GPU request on a worker
    that sees none fails in the engine (DeviceUnavailable), with that message on the task."""
    wanted = wanted_device(task.form)
    if wanted == "auto":
        import mxnet as mx  # in the job, never before the worker is ready

        wanted = "gpu" if mx.context.num_gpus() > 0 else "cpu"
    return "gpu(0)" if wanted == "gpu" else "cpu"


def _load(session: Session, task: Task, device: str) -> JobInputs:
    """Raises what tasks.mx_inputs.load_mx_inputs raises."""
    from tasks.mx_inputs import load_mx_inputs

    states.info("TASK_BEGIN_PREPARE_DATA")
    inputs = load_mx_inputs(session, task, device)
    states.info("TASK_PREPARE_DATA_DONE")
    return inputs


def _flat_metrics(result: dict) -> dict:
    """Headline numbers at the top of the result, named as the torch engine names them, so the
    listing can compare and sort tasks of both backends; the test detail gets the torch
    engine's rates too (from its confusion matrix)."""
    from models.confusion_metrics import confusion_rates

    history = result.get("history") or []
    final = history[-1] if history else {}
    scored = [h for h in history if h.get("val_loss") is not None]
    best = min(scored, key=lambda h: h["val_loss"]) if scored else {}
    out = {"final_val_loss": final.get("val_loss"), "final_val_accuracy": final.get("val_accuracy"),
           "final_train_accuracy": final.get("train_accuracy"), "best_val_loss": best.get("val_loss"),
           "best_val_accuracy": best.get("val_accuracy"), "best_epoch": best.get("epoch")}
    for prefix in TEST_PREFIXES:  # the final weights, the lowest-validation-loss epoch's
        test = result.get(prefix) or {}
        if test:
            out.update({f"{prefix}_loss": test.get("loss"), f"{prefix}_accuracy": test.get("accuracy")},
                       **_accuracy_bounds(test, prefix))
        if test.get("confusion_matrix"):
            test.update(confusion_rates(test["confusion_matrix"]))
            out.update({f"{prefix}_{k}": test.get(k) for k in ("balanced_accuracy", "sensitivity", "specificity",
                                                               "precision", "f1")})
    return {k: v for k, v in out.items() if v is not None}


def _accuracy_bounds(test: dict, prefix: str) -> dict:
    """Adds the accuracy's Wilson interval and the chance level to ``test`` (from its confusion
    matrix) and returns the flat keys the listing sorts by."""
    from models.proportion import accuracy_interval, chance_of_counts

    cm = test.get("confusion_matrix") or []
    if not cm or not test.get("n"):
        return {}
    interval = accuracy_interval(sum(cm[k][k] for k in range(len(cm))), int(test["n"]))
    test["intervals"] = {"accuracy": interval}
    test.update(chance_of_counts([sum(row) for row in cm], list(test["class_names"])))
    return {f"{prefix}_accuracy_low": interval["low"], f"{prefix}_accuracy_high": interval["high"],
            f"{prefix}_chance_level": test["chance_level"], f"{prefix}_n": test["n"]}


def _flat_detection_metrics(result: dict) -> dict:
    """A detector's headline numbers: each test set's mAP (both conventions) with its interval,
    the validation mAP of the last and the best epoch."""
    history = result.get("history") or []
    out = {"final_val_map": history[-1].get("val_map") if history else None,
           "best_val_map": result.get("best_val_map"), "best_epoch": result.get("best_epoch")}
    for prefix in TEST_PREFIXES:
        test = result.get(prefix) or {}
        if test:
            out[f"{prefix}_n"] = test["n"]
        for score in DETECTION_SCORES:
            part = test.get(score) or {}
            out.update({f"{prefix}_{score}": part.get("map"), f"{prefix}_{score}_low": part.get("low"),
                        f"{prefix}_{score}_high": part.get("high")})
    return {k: v for k, v in out.items() if v is not None}


def _run(spec, hooks: JobHooks, _device: str) -> JobOutcome:  # noqa: ANN001 - an MxJobSpec or DetectionJobSpec
    """Raises what run_mx_job or run_detection_job raise (MxSpecError, CheckpointError,
    DeviceUnavailable), and pydantic.ValidationError for a result key contracts.task_result
    does not define."""
    from models.mxnet_backend.detector_spec import DetectionJobSpec

    if isinstance(spec, DetectionJobSpec):
        from models.mxnet_backend.detector import run_detection_job as run_job

        flat = _flat_detection_metrics
    else:
        from models.mxnet_backend.engine import run_mx_job as run_job

        flat = _flat_metrics
    outcome = run_job(spec, _StateHooks(hooks))
    if not outcome.stopped:
        states.info("TASK_SAVING_RESULTS")  # trainyard's: result, weights, checkpoints, pictures
    outcome.result = result_json(**{**outcome.result, **flat(outcome.result), "task_type": spec.task_type})
    return outcome


class _StateHooks:
    """The runner's hooks, plus ``on_phase``: each phase of the job logged as MXServer's state."""

    def __init__(self, hooks: JobHooks):
        self._hooks = hooks

    def __getattr__(self, name: str):  # noqa: ANN204 - the wrapped hooks' methods
        return getattr(self._hooks, name)

    def on_phase(self, phase: str) -> None:
        if phase in PHASE_STATES:
            states.info(PHASE_STATES[phase])


def _pictures(task_id: str, outcome: JobOutcome) -> None:
    """The torch tasks' pictures (curves, confusion matrix), from the same epoch rows."""
    from tasks.pictures import store_pictures

    store_pictures(task_id, outcome)


MXNET = Backend("mxnet", _pick_device, _load, _run, _pictures)
