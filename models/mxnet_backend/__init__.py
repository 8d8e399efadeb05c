"""MXNet image classification (MXServer's jobs): networks, image datasets, training, evaluation.

Imports mxnet, numpy and the standard library only (plus the framework-free ``models.job`` and
``models.datasets.types``). It runs in the MXNet worker's own environment (numpy < 1.24); the API
and the torch worker never import mxnet.

The names below are loaded lazily (PEP 562), so importing a numpy-only module of this package
(``images``, ``demo``, ``png``, ``archive``) does not import mxnet: the API and ``app.manage``
use those to register the demo image dataset.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CheckpointError": "checkpoint",
    "CheckpointMeta": "checkpoint",
    "DEMO_CLASSES": "demo",
    "DEMO_IMAGE_DATASET": "demo",
    "DeviceUnavailable": "context",
    "EvalResult": "loop",
    "ImageDataset": "images",
    "ImageImport": "import_folders",
    "ImportLimits": "archive",
    "MX_NETWORKS": "networks",
    "MxJobSpec": "spec",
    "MxNetInfo": "networks",
    "MxSpecError": "spec",
    "MxTrainParams": "spec",
    "UnknownNetwork": "networks",
    "build_network": "networks",
    "check_image_dataset": "images",
    "check_spec": "spec",
    "content_checksum": "images",
    "encode_png": "png",
    "evaluate_checkpoint": "engine",
    "factor_lr": "schedule",
    "find_network": "networks",
    "image_metadata": "images",
    "import_image_folders": "import_folders",
    "import_image_upload": "importers",
    "import_recordio": "import_recordio",
    "make_demo_images": "demo",
    "pack_checkpoint": "checkpoint",
    "resolve_context": "context",
    "run_mx_job": "engine",
    "unpack_checkpoint": "checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """``models.mxnet_backend.X`` imports X's module on first use. Raises AttributeError."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
