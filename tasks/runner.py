"""One task, start to finish, on this worker: claim, load, train, store, finish.

The same for every backend: a ``tasks.backends.Backend`` supplies the device choice, the
loading of inputs and the engine call (torch: ``tasks.torch_backend.TORCH``, MXNet:
``tasks.mx_backend.MXNET``). This module imports no framework.

Every database write is its own short transaction, so the API sees epochs as they happen and a
crash leaves at most the current epoch to redo. Every write is also guarded by ownership: a
worker whose lease was taken away (it was presumed dead and the task given to another) writes
nothing more to the task.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from dao import artifact_queries, epoch_queries, task_queries
from dao.db import session_scope
from contracts.settings import get_settings
from dao.tables import Task
from contracts.statuses import TaskStatus
from models.job import EpochMetrics, JobOutcome
from models.datasets.lineage import tested_on_seen
from contracts.task_result import result_json
from tasks import shutdown, task_logging, worker_metrics
from tasks.backends import Backend, JobInputs
from tasks.dispatch import dispatch_waiting
from tasks.lease import Lease

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    task_id: str
    worker: str
    attempt: int
    device: str
    keep_weights: bool = True  # the form's param_set.save_model_state


class TaskHooks:
    """The engine's JobHooks: store epochs and checkpoints while the task is still ours, stop
    at the next batch when asked, pause between epochs when the worker shuts down."""

    def __init__(self, claim: Claim, lease: Lease):
        self.claim = claim
        self.lease = lease
        self.disowned = False

    def on_epoch(self, metrics: EpochMetrics) -> None:
        c = self.claim
        # Logged before the epoch is recorded: nothing else sits between the record and the
        # epoch's checkpoint, and whoever sees the epoch can read its line.
        validation = f"val_map={metrics.val_map:.4f}" if metrics.val_map is not None else f"val_loss={metrics.val_loss}"
        log.info("epoch %d/%d train_loss=%.4f %s", metrics.epoch, metrics.epochs, metrics.train_loss, validation)
        with session_scope() as session:
            if not self._owned(session):
                return
            epoch_queries.record_epoch(session, c.task_id, metrics.epoch, c.attempt, asdict(metrics))
            task_queries.record_progress(session, c.task_id, c.worker, metrics.epoch)
        worker_metrics.epoch_done(metrics)

    def on_checkpoint(self, kind: str, blob: bytes, epoch: int) -> None:
        name = {"last": artifact_queries.CHECKPOINT, "best": artifact_queries.BEST_CHECKPOINT,
                "epoch": artifact_queries.epoch_checkpoint_kind(epoch)}.get(kind, f"checkpoint_{kind}")
        with session_scope() as session:
            if self._owned(session):
                artifact_queries.save_artifact(session, self.claim.task_id, name, from_start(blob), epoch=epoch)

    def should_stop(self) -> bool:
        return self.lease.stop_requested or self.lease.lost or self.disowned

    def should_pause(self) -> bool:
        return shutdown.shutting_down()

    def _owned(self, session) -> bool:  # noqa: ANN001
        if not task_queries.lock_if_owned(session, self.claim.task_id, self.claim.worker):
            self.disowned = True
        return not self.disowned


def run_here(task_id: str, backend: Backend) -> str:
    """What a Celery job does: run the task on this worker, marked busy meanwhile."""
    from tasks import worker_identity

    with task_logging.task(task_id), worker_identity.running(task_id):
        outcome = execute(task_id, worker_identity.name(), backend)
        log.info("outcome: %s", outcome)
    return outcome


def execute(task_id: str, worker: str, backend: Backend) -> str:
    """Run the task if this delivery wins the claim; returns what happened, for the log.
    Never raises for a failing job: the task is marked FAILED instead."""
    claim = _claim(task_id, worker, backend)
    if claim is None:
        log.info("not claimable (missing, stopped or already claimed); skipped")
        return "skipped"
    task_logging.set_attempt(claim.attempt)
    log.info("running on %s (%s)", worker, claim.device)  # the attempt is in every line's tag
    settings = get_settings()
    lease = Lease(task_id, worker, settings.heartbeat_seconds, settings.lease_seconds).start()
    try:
        return _train(claim, lease, backend)
    except DBAPIError as exc:
        # The database, not the training, failed: leave the task RUNNING; once its lease
        # expires the reaper requeues it and it resumes from its last checkpoint.
        log.error("database error; the reaper will requeue it: %s", exc)
        return "abandoned"
    except Exception as exc:  # noqa: BLE001 - any training error fails this task, not the worker
        log.exception("failed")
        with session_scope() as session:
            task_queries.mark_failed(session, task_id, worker, _readable(exc))
        return "failed"
    finally:
        lease.close()


def _claim(task_id: str, worker: str, backend: Backend) -> Claim | None:
    with session_scope() as session:
        task = session.get(Task, task_id)
        if task is None:
            return None
        device = backend.pick_device(task)
        if not task_queries.claim_task(session, task_id, worker, device):
            return None
        keep = (task.form.get("param_set") or {}).get("save_model_state", True) is not False
        return Claim(task_id, worker, task.attempt, device, keep)


def _train(claim: Claim, lease: Lease, backend: Backend) -> str:
    # The local files the run reads weights and checkpoints from (an MXNet resume's may be stored
    # again at the end) stay open until the task is finished, stopped, handed back or failed.
    with ExitStack() as files:
        inputs = _load(claim, backend, files)
        return _run_and_end(claim, lease, backend, inputs)


def _load(claim: Claim, backend: Backend, files: ExitStack) -> JobInputs:
    with session_scope() as session:
        inputs = backend.load(session, task_queries.get_task(session, claim.task_id), claim.device)
        files.enter_context(inputs.files)
        if inputs.resumed_from_epoch is not None:
            epoch_queries.drop_epochs_after(session, claim.task_id, inputs.resumed_from_epoch)
            log.info("resuming after epoch %d", inputs.resumed_from_epoch)
    return inputs


def _run_and_end(claim: Claim, lease: Lease, backend: Backend, inputs: JobInputs) -> str:
    hooks = TaskHooks(claim, lease)
    outcome = backend.run(inputs.spec, hooks, claim.device)
    if lease.lost or hooks.disowned:
        log.warning("lease lost; leaving the row to its new owner")
        return "lost"
    if outcome.stopped:
        return _stopped(claim, outcome, inputs, lease)
    return _finished(claim, outcome, inputs, backend)


def _result(outcome: JobOutcome, inputs: JobInputs, **more: Any) -> dict:
    """The result to store: the engine's, and what only the runner knows (a TaskResult's JSON)."""
    result = dict(outcome.result)
    result.update(contract=outcome.contract, splits=inputs.splits, epochs_done=outcome.epochs_done)
    # Set only by a form that allowed it: the listing shows it and metric sorts rank it last.
    result["test_on_seen_subjects"] = tested_on_seen(inputs.splits.get("seen_in_test"))
    if "groups_mixed" in inputs.splits:
        result["groups_mixed"] = bool(inputs.splits["groups_mixed"])
    if inputs.resumed_from_epoch is not None:
        result["resumed_from_epoch"] = inputs.resumed_from_epoch
    return result_json(**(result | more))


def _store_weights(claim: Claim, outcome: JobOutcome) -> bool:
    """Store the final and best weights (unless the form said save_model_state false) if the
    task is still ours."""
    with session_scope() as session:
        if not task_queries.lock_if_owned(session, claim.task_id, claim.worker):
            return False
        if not claim.keep_weights:
            return True
        if outcome.weights is not None:
            artifact_queries.save_artifact(session, claim.task_id, artifact_queries.WEIGHTS,
                                           from_start(outcome.weights), epoch=outcome.epochs_done)
        if outcome.best_weights is not None:
            artifact_queries.save_artifact(session, claim.task_id, artifact_queries.BEST_WEIGHTS,
                                           from_start(outcome.best_weights))
    return True


def _finished(claim: Claim, outcome: JobOutcome, inputs: JobInputs, backend: Backend) -> str:
    if not _store_weights(claim, outcome):
        return "lost"
    if backend.after_finish is not None:
        backend.after_finish(claim.task_id, outcome)
    with session_scope() as session:
        status = task_queries.update_task_result(session, claim.task_id, claim.worker,
                                                 _result(outcome, inputs), outcome.epochs_done)
        if status == TaskStatus.SUCCEEDED.value and not get_settings().keep_resume_checkpoints:
            # Nothing resumes a succeeded task: its final and best weights (and the epoch
            # checkpoints MXServer's save_period asked for) are what stays.
            artifact_queries.delete_artifacts(session, claim.task_id, artifact_queries.RESUME_CHECKPOINTS)
    log.info("finished as %s", status)
    return status or "lost"


def _stopped(claim: Claim, outcome: JobOutcome, inputs: JobInputs, lease: Lease) -> str:
    if not lease.stop_requested and shutdown.shutting_down():
        return _hand_back(claim, outcome, inputs)
    return _mark_stopped(claim, outcome, inputs)


def _mark_stopped(claim: Claim, outcome: JobOutcome, inputs: JobInputs) -> str:
    if not _store_weights(claim, outcome):
        return "lost"
    with session_scope() as session:
        task_queries.mark_stopped(session, claim.task_id, claim.worker,
                                  _result(outcome, inputs, stopped=True))
    log.info("stopped after %d epochs", outcome.epochs_done)
    return "stopped"


def _hand_back(claim: Claim, outcome: JobOutcome, inputs: JobInputs) -> str:
    """Worker shutdown, between epochs and after the checkpoint: the task goes back to the
    dispatcher (this worker has already left the live list) and resumes on another worker."""
    with session_scope() as session:
        released = task_queries.release_to_queue(session, claim.task_id, claim.worker)
        status = session.scalar(select(Task.status).where(Task.id == claim.task_id))
    if not released:
        if status == TaskStatus.STOPPING.value:  # a user's stop arrived meanwhile: honour it
            return _mark_stopped(claim, outcome, inputs)
        return "lost"
    try:
        dispatch_waiting()
    except Exception as exc:  # noqa: BLE001 - the reaper dispatches it on its next sweep
        log.warning("handed back; dispatch deferred to the reaper: %s", exc)
    log.info("handed back to the queue for another worker")
    return "handed back"


def from_start(blob: bytes | BinaryIO) -> bytes | BinaryIO:
    """What an engine hands back to store: bytes, or a file of the job's inputs (an MXNet resume's
    checkpoint, stored again as its last) rewound, as the store streams a file from where it stands."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        blob.seek(0)
    return blob


def _readable(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text if isinstance(exc, (ValueError, LookupError)) else f"{exc.__class__.__name__}: {text}"
