"""The MXNet worker's export job: a deployed MXNet task's checkpoint → ONNX (mx2onnx), verified
against MXNet on the task's own test images (validation, then training images when it had none)
before the model is READY (``tasks.export_jobs.run_export``). A detector's export stops before
its NMS, which the serving role runs (``models.mxnet_backend.detector_export``)."""

from __future__ import annotations

from typing import Callable

from celery import shared_task
from sqlalchemy.orm import Session

from dao.tables import Task
from tasks.celery_app import EXPORT_MX_MODEL
from tasks.export_jobs import Converted, run_export, verification_data


@shared_task(name=EXPORT_MX_MODEL, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def export_mx_model(model_id: str) -> str:
    return run_export(int(model_id), _prepare)


def _prepare(session: Session, task: Task, blob: bytes) -> Callable[[], Converted]:
    from tasks.mx_inputs import is_detection, load_mx_inputs

    inputs = load_mx_inputs(session, task, "cpu")
    inputs.files.close()  # the export reads the task's data, not the weights it started from
    ds, role = verification_data(inputs.spec, "n_images", "images")
    if is_detection(task):
        return lambda: _detector(blob, ds, role)

    def convert() -> Converted:
        from models.mxnet_backend.onnx_export import export_checkpoint, verify

        exported = export_checkpoint(blob)
        return exported.onnx, exported.contract, verify(blob, exported, ds, role)

    return convert


def _detector(blob: bytes, ds, role: str) -> Converted:  # noqa: ANN001 - a DetectionDataset
    from models.mxnet_backend.detector_export import export_detector, verify_detector

    exported = export_detector(blob)
    return exported.onnx, exported.contract, verify_detector(blob, exported, ds, role)
