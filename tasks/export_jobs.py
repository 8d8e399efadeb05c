"""The torch worker's export job: a deployed task's network → a verified ONNX file in the
model registry. The row is EXPORTING until this job makes it READY or FAILED; a re-delivered
message finds it decided and does nothing."""

from __future__ import annotations

import logging

from celery import shared_task

from dao import artifact_queries, model_queries
from dao.db import session_scope
from dao.tables import ModelStatus, Task
from tasks.celery_app import EXPORT_MODEL

log = logging.getLogger(__name__)


@shared_task(name=EXPORT_MODEL, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def export_model(model_id: str) -> str:
    return export_here(int(model_id))


def _verification_subjects(spec):
    """The task's test subjects; its validation (then training) subjects when it had none."""
    for role in ("test", "val", "train"):
        ds = getattr(spec, role)
        if ds is not None and ds.n_subjects > 0:
            return ds, role
    raise ValueError("the task has no subjects to verify the export on")


def export_here(model_id: int) -> str:
    """Export and verify; returns the row's new status, or "skipped". Never raises for a model
    that cannot be exported: the row becomes FAILED with the reason."""
    from models.onnx_export import export_weights, verify
    from tasks.job_inputs import load_inputs

    with session_scope() as session:
        row = model_queries.get_by_id(session, model_id)
        if row is None or row.status != ModelStatus.EXPORTING.value or row.source_task_id is None:
            return "skipped"
        task = session.get(Task, row.source_task_id)
        blob = artifact_queries.get_model(session, row.source_task_id)
        try:
            spec = load_inputs(session, task).spec if task is not None else None
        except Exception as exc:  # noqa: BLE001 - missing data fails the export, not the worker
            return _fail(model_id, f"the task's data could not be loaded: {exc}")
    if blob is None or spec is None:
        return _fail(model_id, "the task has no stored weights")
    try:
        ds, role = _verification_subjects(spec)
        exported = export_weights(blob, ds.n_features)
        record = verify(blob, exported, ds, role)
    except Exception as exc:  # noqa: BLE001 - ExportFailed, BadWeights, exporter errors
        log.exception("model %s: export failed", model_id)
        return _fail(model_id, f"{type(exc).__name__}: {exc}")
    with session_scope() as session:
        row = model_queries.get_by_id(session, model_id)
        if row is None or row.status != ModelStatus.EXPORTING.value:
            return "skipped"
        model_queries.store_onnx(session, row, exported.onnx, exported.contract, record)
    log.info("model %s: exported and verified (max abs diff %.3g on %d %s subjects)", model_id,
             record["max_abs_diff"], record["n_subjects"], role)
    return ModelStatus.READY.value


def _fail(model_id: int, reason: str) -> str:
    with session_scope() as session:
        model_queries.mark_failed(session, model_id, reason)
    return ModelStatus.FAILED.value
