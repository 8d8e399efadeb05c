"""Export jobs: a deployed task's network → a verified ONNX file in the model registry. The
torch worker exports torch tasks (``export_model``); the MXNet worker exports MXNet tasks
(``tasks.mx_export``), both through ``run_export``. The row is EXPORTING until a job makes it
READY or FAILED; a re-delivered message finds it decided and does nothing.

The worker exporting a model holds it with a heartbeat on the row (``exporter``,
``export_heartbeat_at``), like a task's lease: a worker killed mid-export stops beating, and the
reaper hands the export back and sends its message again (the one the dead worker held would
come back only after the broker's visibility timeout). A second message for a model another
live worker holds does nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Iterator
from typing import Callable

from celery import shared_task
from sqlalchemy.orm import Session

from dao import artifact_queries, model_queries
from dao.db import session_scope
from dao.tables import Task, utcnow
from contracts.settings import get_settings
from contracts.statuses import ModelStatus
from tasks import worker_identity
from tasks.celery_app import EXPORT_MODEL

log = logging.getLogger(__name__)

# (onnx bytes, contract, verification record): what a converter hands back
Converted = tuple[bytes, dict, dict]
# Reads what the export needs while the session is open (raises for data that cannot be
# loaded) and returns the work to run after it closes.
Prepare = Callable[[Session, Task, bytes], Callable[[], Converted]]


@shared_task(name=EXPORT_MODEL, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def export_model(model_id: str) -> str:
    return export_here(int(model_id))


def verification_data(spec, count: str = "n_subjects", what: str = "subjects"):  # noqa: ANN001, ANN201
    """The task's test data; its validation (then training) data when it had none. ``count``
    names the attribute that says how many items a dataset holds (MXNet's: ``n_images``)."""
    for role in ("test", "val", "train"):
        ds = getattr(spec, role)
        if ds is not None and getattr(ds, count) > 0:
            return ds, role
    raise ValueError(f"the task has no {what} to verify the export on")


def _prepare_torch(session: Session, task: Task, blob: bytes) -> Callable[[], Converted]:
    from tasks.job_inputs import load_inputs

    inputs = load_inputs(session, task)
    inputs.files.close()  # the export reads the task's data, not the weights it started from
    spec = inputs.spec

    def convert() -> Converted:
        from models.onnx_export import export_weights, verify

        ds, role = verification_data(spec)
        exported = export_weights(blob, ds.n_features)
        return exported.onnx, exported.contract, verify(blob, exported, ds, role)

    return convert


def export_here(model_id: int) -> str:
    """Export a torch task and verify it; see ``run_export``."""
    return run_export(model_id, _prepare_torch)


def run_export(model_id: int, prepare: Prepare) -> str:
    """Export and verify; returns the row's new status, or "skipped". Never raises for a model
    that cannot be exported: the row becomes FAILED with the reason."""
    settings, worker = get_settings(), worker_identity.name()
    with session_scope() as session:
        stale_before = utcnow() - dt.timedelta(seconds=settings.lease_seconds)
        if not model_queries.claim_export(session, model_id, worker, stale_before):
            return "skipped"  # decided, gone, or held by a live worker
    with _held(model_id, worker, settings.heartbeat_seconds):
        return _export(model_id, prepare)


def _export(model_id: int, prepare: Prepare) -> str:
    with session_scope() as session:
        row = model_queries.get_by_id(session, model_id)
        if row is None or row.status != ModelStatus.EXPORTING.value or row.source_task_id is None:
            return "skipped"
        task = session.get(Task, row.source_task_id)
        blob = artifact_queries.get_model(session, row.source_task_id)
        if blob is None or task is None:
            return _fail(model_id, "the task has no stored weights")
        try:
            convert = prepare(session, task, blob)
        except Exception as exc:  # noqa: BLE001 - missing data fails the export, not the worker
            return _fail(model_id, f"the task's data could not be loaded: {exc}")
    try:
        onnx, contract, record = convert()
    except Exception as exc:  # noqa: BLE001 - ExportFailed, BadWeights, exporter errors
        log.exception("model %s: export failed", model_id)
        return _fail(model_id, f"{type(exc).__name__}: {exc}")
    with session_scope() as session:
        row = model_queries.get_by_id(session, model_id)
        if row is None or row.status != ModelStatus.EXPORTING.value:
            return "skipped"
        model_queries.store_onnx(session, row, onnx, contract, record)
    log.info("model %s: exported and verified (max abs diff %.3g on %d %s subjects)", model_id,
             record["max_abs_diff"], record["n_subjects"], record["subjects"])
    return ModelStatus.READY.value


@contextlib.contextmanager
def _held(model_id: int, worker: str, every: float) -> Iterator[None]:
    """Renew ``worker``'s hold on the export every ``every`` seconds while the block runs."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            try:
                with session_scope() as session:
                    if not model_queries.export_heartbeat(session, model_id, worker):
                        return
            except Exception as exc:  # noqa: BLE001 - a database blip must not end the export
                log.warning("model %s: export heartbeat failed: %s", model_id, exc)

    thread = threading.Thread(target=beat, name=f"export-{model_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


def _fail(model_id: int, reason: str) -> str:
    with session_scope() as session:
        model_queries.mark_failed(session, model_id, reason)
    return ModelStatus.FAILED.value
