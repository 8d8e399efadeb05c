"""What the MXNet worker hands the engine: MXServer's training request, typed (its
hyper-parameters are ``contracts.mxserver_request.MxTrainParams``)."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.mxserver_request import MxTrainParams
from contracts.statuses import TASK_TYPES
from models.mxnet_backend.checkpoint import CheckpointMeta, unpack_checkpoint
from models.mxnet_backend.fitting import DataShape, fitted_shape
from models.mxnet_backend.images import ImageDataset
from models.mxnet_backend.networks import UnknownNetwork, find_network, input_problems
from models.sources import Source


class MxSpecError(ValueError):
    """The job spec is inconsistent; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class MxJobSpec:
    task_type: str  # dl_ts (train), dl_ft (fine-tune from init_weights), dl_ev (evaluate init_weights)
    network: str  # a name or alias from networks.MX_NETWORKS
    params: MxTrainParams
    train: ImageDataset | None  # None for dl_ev
    val: ImageDataset | None = None
    test: ImageDataset | None = None  # required for dl_ev
    device: str = "cpu"  # "cpu", "gpu(i)"
    # Checkpoints: bytes, or (a worker) a seekable local file, read where the engine needs them
    init_weights: Source | None = None  # a checkpoint (dl_ft, dl_ev)
    resume_checkpoint: Source | None = None  # this task's last checkpoint, to continue from
    with_baseline: bool = True  # the pixel baseline beside the test result (pixel_baseline)
    data_shape: DataShape | None = None  # (C, H, W) the images are fitted to (MXServer's data_param.shapes)
    eval_size: tuple[int, int] | None = None  # dl_ev: (H, W) the test images are fitted to (img_shapes)


def input_shape(spec: MxJobSpec) -> DataShape | None:
    """The (C, H, W) every role's images are fitted to (fitting.py): ``data_shape``; for an
    evaluation with ``eval_size``, that size with the weights' channels; else the shape the
    starting weights were fitted to; None: the images are fed as stored."""
    if spec.data_shape is not None:
        return tuple(spec.data_shape)
    blob = spec.resume_checkpoint or spec.init_weights
    meta = unpack_checkpoint(blob).meta if blob is not None else None
    if spec.eval_size is not None and meta is not None:
        return meta.image_shape[2], *spec.eval_size
    return None if meta is None else meta.data_shape()


def _role_problems(spec: MxJobSpec) -> list[str]:
    if spec.task_type not in TASK_TYPES:
        return [f"task_type must be one of {TASK_TYPES}"]
    needs = {"dl_ts": ("train",), "dl_ft": ("train", "init_weights"), "dl_ev": ("test", "init_weights")}
    return [f"{spec.task_type} needs {field}" for field in needs[spec.task_type] if getattr(spec, field) is None]


def _dataset_problems(spec: MxJobSpec) -> list[str]:
    try:
        info = find_network(spec.network)
    except UnknownNetwork as exc:
        return [str(exc)]
    target = input_shape(spec)
    roles = [(n, d) for n, d in (("train", spec.train), ("val", spec.val), ("test", spec.test)) if d is not None]
    shapes = {n: fitted_shape(d.image_shape, target) for n, d in roles}
    problems = [f"{n}: {p}" for n, _ in roles for p in input_problems(info, shapes[n])]
    first = roles[0] if roles else None
    for name, ds in roles[1:]:
        if ds.class_names != first[1].class_names:
            problems.append(f"{name}: classes {list(ds.class_names)} differ from {list(first[1].class_names)}")
        shape, want = shapes[name], shapes[first[0]]
        if shape[2] != want[2] or (not info.any_size and shape != want):
            problems.append(f"{name}: images {shape} do not match {want}")
    return problems


def check_spec(spec: MxJobSpec) -> None:
    """Raises MxSpecError listing every inconsistency (roles, datasets); the hyper-parameters were
    checked when their ``MxTrainParams`` was built."""
    problems = _role_problems(spec) + _dataset_problems(spec)
    if problems:
        raise MxSpecError(problems)


def contract_problems(meta: CheckpointMeta, network: str, ds: ImageDataset, same_names: bool,
                      target: DataShape | None = None) -> list[str]:
    """Why weights described by ``meta`` cannot serve ``network`` on ``ds`` (its images fitted
    to ``target``); empty when they can."""
    info = find_network(network)
    shape = fitted_shape(ds.image_shape, target)
    problems = []
    if meta.network != info.name:
        problems.append(f"weights are for {meta.network}, the job asks for {info.name}")
    if len(meta.class_names) != ds.n_classes or (same_names and tuple(meta.class_names) != ds.class_names):
        problems.append(f"weights were trained on classes {list(meta.class_names)}, data has {list(ds.class_names)}")
    if meta.image_shape[2] != shape[2] or (not info.any_size and tuple(meta.image_shape) != shape):
        problems.append(f"weights were trained on images {tuple(meta.image_shape)}, data has {shape}")
    return problems
