"""Pictures of a finished task (loss/accuracy curves, confusion matrix, and those its engine drew:
a detector's boxes on test images), stored as PNG artifacts because people would rather see
them than read them."""

from __future__ import annotations

import logging

from dao import artifact_queries, epoch_queries
from dao.db import session_scope
from models.job import JobOutcome

log = logging.getLogger(__name__)


def store_pictures(task_id: str, outcome: JobOutcome) -> None:
    """Best effort: a plotting failure is logged and never fails the task."""
    try:
        from models.plots import confusion_png, curves_png

        with session_scope() as session:
            epochs = [row.metrics for row in epoch_queries.list_epochs(session, task_id)]
        pictures = {}
        if epochs:
            pictures["curves_png"] = curves_png(epochs, title=task_id)
        test = outcome.result.get("test") or {}
        if test.get("confusion_matrix"):
            names = outcome.contract.get("class_names") or [str(i) for i in range(len(test["confusion_matrix"]))]
            pictures["confusion_png"] = confusion_png(test["confusion_matrix"], names, title=task_id)
        pictures.update(outcome.pictures)
        with session_scope() as session:
            for kind, png in pictures.items():
                artifact_queries.save_artifact(session, task_id, kind, png, content_type="image/png")
    except Exception as exc:  # noqa: BLE001
        log.warning("pictures not stored: %s", exc)
