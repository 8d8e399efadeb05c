"""The names every role shares for where a task, a dataset or a served model stands, and the
task types. The database stores these values; the API, the dashboard and the CLI show them."""

from __future__ import annotations

import enum
from typing import Literal

# What each task type does, in the words the dashboard shows.
TASK_TYPE_MEANING = {"dl_ts": "train from scratch", "dl_ft": "fine-tune a trained task",
                     "dl_ev": "evaluate a trained task's model"}
TASK_TYPES = tuple(TASK_TYPE_MEANING)
# What a dataset holds: connectomes (torch networks), class-labelled images or images with boxes
# (object detection), both for the MXNet worker, which validates those two kinds at upload.
DATASET_KINDS = ("connectome", "image", "detection")
DatasetKind = Literal[DATASET_KINDS]
BACKENDS = ("torch", "mxnet")  # which worker trains a task (a network's ``backend`` in contracts.catalog)
Backend = Literal[BACKENDS]


class TaskStatus(str, enum.Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"

    @classmethod
    def terminal(cls) -> tuple["TaskStatus", ...]:
        return (cls.SUCCEEDED, cls.FAILED, cls.STOPPED)


class DatasetStatus(str, enum.Enum):
    """READY: validated, usable. VALIDATING: an image upload stored raw, waiting for the MXNet
    worker to check and convert it. REJECTED: that check failed (``meta["problems"]`` says why)."""

    READY = "READY"
    VALIDATING = "VALIDATING"
    REJECTED = "REJECTED"


class ModelStatus(str, enum.Enum):
    """EXPORTING: a worker is exporting and verifying it (or an upload is being checked).
    READY: serving processes load it. FAILED: ``error`` says why; nothing serves it."""

    EXPORTING = "EXPORTING"
    READY = "READY"
    FAILED = "FAILED"
