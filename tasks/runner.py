"""One task, start to finish, on this worker: claim, load, train, store, finish.

The same for every backend: a ``tasks.backends.Backend`` supplies the device choice, the
loading of inputs and the engine call (torch: ``tasks.torch_backend.TORCH``, MXNet:
``tasks.mx_backend.MXNET``). This module imports no framework.

Every database write is its own short transaction, so the API sees epochs as they happen and
a crash leaves at most the current epoch to redo.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import asdict

from dao import artifact_queries, epoch_queries, task_queries
from dao.db import session_scope
from dao.settings import get_settings
from dao.tables import Task
from models.job import EpochMetrics, JobOutcome
from tasks import shutdown
from tasks.backends import Backend, JobInputs
from tasks.lease import Lease
from tasks.dispatch import dispatch_waiting

log = logging.getLogger(__name__)


class TaskHooks:
    """The engine's JobHooks: store epochs and checkpoints, report stop requests."""

    def __init__(self, task_id: str, attempt: int, lease: Lease):
        self.task_id = task_id
        self.attempt = attempt
        self.lease = lease

    def on_epoch(self, metrics: EpochMetrics) -> None:
        with session_scope() as session:
            epoch_queries.record_epoch(session, self.task_id, metrics.epoch, self.attempt,
                                       asdict(metrics))
            task_queries.record_progress(session, self.task_id, metrics.epoch)
        log.info("task %s: epoch %d/%d train_loss=%.4f val_loss=%s", self.task_id, metrics.epoch,
                 metrics.epochs, metrics.train_loss, metrics.val_loss)

    def on_checkpoint(self, kind: str, blob: bytes, epoch: int) -> None:
        name = artifact_queries.CHECKPOINT if kind == "last" else f"checkpoint_{kind}"
        with session_scope() as session:
            artifact_queries.save_artifact(session, self.task_id, name, blob, epoch=epoch)

    def should_stop(self) -> bool:
        return self.lease.stop_requested or self.lease.lost or shutdown.shutting_down()


def execute(task_id: str, worker: str, backend: Backend) -> str:
    """Run the task if this delivery wins the claim; returns what happened, for the log.
    Never raises for a failing job: the task is marked FAILED instead."""
    with session_scope() as session:
        task = session.get(Task, task_id)
        device = backend.pick_device(task) if task is not None else "cpu"
        if task is None or not task_queries.claim_task(session, task_id, worker, device):
            log.info("task %s: not claimable (missing, stopped or already claimed); skipped", task_id)
            return "skipped"
        attempt = task_queries.get_task(session, task_id).attempt
    log.info("task %s: attempt %d running on %s (%s)", task_id, attempt, worker, device)
    lease = Lease(task_id, worker, get_settings().heartbeat_seconds).start()
    try:
        return _train(task_id, attempt, device, lease, backend)
    except Exception as exc:  # noqa: BLE001 - any training error fails this task, not the worker
        log.error("task %s: failed\n%s", task_id, traceback.format_exc())
        with session_scope() as session:
            task_queries.mark_failed(session, task_id, _readable(exc))
        return "failed"
    finally:
        lease.close()


def _train(task_id: str, attempt: int, device: str, lease: Lease, backend: Backend) -> str:
    with session_scope() as session:
        inputs = backend.load(session, task_queries.get_task(session, task_id), device)
        if inputs.resumed_from_epoch is not None:
            epoch_queries.drop_epochs_after(session, task_id, inputs.resumed_from_epoch)
            log.info("task %s: resuming after epoch %d", task_id, inputs.resumed_from_epoch)
    outcome = backend.run(inputs.spec, TaskHooks(task_id, attempt, lease), device)
    if outcome.stopped:
        return _stopped(task_id, outcome, inputs, lease)
    return _finished(task_id, outcome, inputs, backend)


def _result(outcome: JobOutcome, inputs: JobInputs) -> dict:
    result = dict(outcome.result)
    result.update(contract=outcome.contract, splits=inputs.splits, epochs_done=outcome.epochs_done)
    if inputs.resumed_from_epoch is not None:
        result["resumed_from_epoch"] = inputs.resumed_from_epoch
    return result


def _store_weights(task_id: str, outcome: JobOutcome) -> None:
    with session_scope() as session:
        if outcome.weights is not None:
            artifact_queries.save_artifact(session, task_id, artifact_queries.WEIGHTS, outcome.weights,
                                           epoch=outcome.epochs_done)
        if outcome.best_weights is not None:
            artifact_queries.save_artifact(session, task_id, artifact_queries.BEST_WEIGHTS,
                                           outcome.best_weights)


def _finished(task_id: str, outcome: JobOutcome, inputs: JobInputs, backend: Backend) -> str:
    _store_weights(task_id, outcome)
    if backend.after_finish is not None:
        backend.after_finish(task_id, outcome)
    with session_scope() as session:
        status = task_queries.update_task_result(session, task_id, _result(outcome, inputs),
                                                 outcome.epochs_done)
    log.info("task %s: finished as %s", task_id, status)
    return status or "lost"


def _stopped(task_id: str, outcome: JobOutcome, inputs: JobInputs, lease: Lease) -> str:
    if lease.lost:
        log.warning("task %s: lease lost; leaving the row to its new owner", task_id)
        return "lost"
    if not lease.stop_requested and shutdown.shutting_down():
        return _hand_back(task_id)
    _store_weights(task_id, outcome)
    with session_scope() as session:
        task_queries.mark_stopped(session, task_id, _result(outcome, inputs) | {"stopped": True})
    log.info("task %s: stopped after %d epochs", task_id, outcome.epochs_done)
    return "stopped"


def _hand_back(task_id: str) -> str:
    """Worker shutdown: the task goes back to the dispatcher (this worker has already left the
    live list) and resumes from its checkpoint on another worker."""
    with session_scope() as session:
        released = task_queries.release_to_queue(session, task_id)
    if not released:
        return "lost"
    try:
        dispatch_waiting()
    except Exception as exc:  # noqa: BLE001 - the reaper dispatches it on its next sweep
        log.warning("task %s: handed back; dispatch deferred to the reaper: %s", task_id, exc)
    log.info("task %s: handed back to the queue for another worker", task_id)
    return "handed back"


def _readable(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text if isinstance(exc, (ValueError, LookupError)) else f"{exc.__class__.__name__}: {text}"
