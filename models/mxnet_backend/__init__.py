"""MXNet image classification (MXServer's jobs): networks, image datasets, training, evaluation.

Imports mxnet, numpy and the standard library only (plus the framework-free ``models.job`` and
``models.datasets.types``). It runs in the MXNet worker's own environment (numpy < 1.24); the API
and the torch worker never import it.
"""

from models.mxnet_backend.archive import ImportLimits
from models.mxnet_backend.checkpoint import CheckpointError, CheckpointMeta, pack_checkpoint, unpack_checkpoint
from models.mxnet_backend.context import DeviceUnavailable, resolve_context
from models.mxnet_backend.demo import DEMO_CLASSES, DEMO_IMAGE_DATASET, make_demo_images
from models.mxnet_backend.engine import evaluate_checkpoint, run_mx_job
from models.mxnet_backend.images import ImageDataset, check_image_dataset, content_checksum, image_metadata
from models.mxnet_backend.import_folders import ImageImport, import_image_folders
from models.mxnet_backend.import_recordio import import_recordio
from models.mxnet_backend.importers import import_image_upload
from models.mxnet_backend.loop import EvalResult
from models.mxnet_backend.networks import MX_NETWORKS, MxNetInfo, UnknownNetwork, build_network, find_network
from models.mxnet_backend.png import encode_png
from models.mxnet_backend.schedule import factor_lr
from models.mxnet_backend.spec import MxJobSpec, MxSpecError, MxTrainParams, check_spec

__all__ = [
    "CheckpointError", "CheckpointMeta", "DEMO_CLASSES", "DEMO_IMAGE_DATASET", "DeviceUnavailable",
    "EvalResult", "ImageDataset", "ImageImport", "ImportLimits", "MX_NETWORKS", "MxJobSpec", "MxNetInfo",
    "MxSpecError", "MxTrainParams", "UnknownNetwork", "build_network", "check_image_dataset", "check_spec",
    "content_checksum", "encode_png", "evaluate_checkpoint", "factor_lr", "find_network", "image_metadata",
    "import_image_folders", "import_image_upload", "import_recordio", "make_demo_images", "pack_checkpoint",
    "resolve_context", "run_mx_job", "unpack_checkpoint",
]
