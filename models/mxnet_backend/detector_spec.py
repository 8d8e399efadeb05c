"""What the MXNet worker hands the detection engine (numpy-only: the worker builds it before
mxnet is imported)."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.mxserver_request import MxTrainParams
from models.mxnet_backend.detection_data import DetectionDataset
from models.sources import Source


@dataclass(frozen=True)
class DetectionJobSpec:
    task_type: str  # dl_ts, dl_ft (from init_weights), dl_ev (init_weights on test)
    network: str  # a detector's name or alias (detector_networks)
    params: MxTrainParams
    train: DetectionDataset | None  # None for dl_ev
    val: DetectionDataset | None = None
    test: DetectionDataset | None = None
    data_shape: tuple[int, int] | None = None  # (H, W), square, the network is fed; None: the detector's choice
    device: str = "cpu"
    init_weights: Source | None = None  # checkpoints: bytes, or (a worker) a seekable local file
    resume_checkpoint: Source | None = None
