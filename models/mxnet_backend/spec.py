"""What the MXNet worker hands the engine: MXServer's training request, typed (its
hyper-parameters are ``contracts.mxserver_request.MxTrainParams``)."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.mxserver_request import MxTrainParams
from contracts.statuses import TASK_TYPES
from models.mxnet_backend.checkpoint import CheckpointMeta
from models.mxnet_backend.images import ImageDataset
from models.mxnet_backend.networks import UnknownNetwork, find_network, input_problems


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
    init_weights: bytes | None = None  # a checkpoint blob (dl_ft, dl_ev)
    resume_checkpoint: bytes | None = None  # this task's last checkpoint, to continue from
    with_baseline: bool = True  # the pixel baseline beside the test result (pixel_baseline)


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
    roles = [(n, d) for n, d in (("train", spec.train), ("val", spec.val), ("test", spec.test)) if d is not None]
    problems = [f"{n}: {p}" for n, d in roles for p in input_problems(info, d.image_shape)]
    first = roles[0][1] if roles else None
    for name, ds in roles[1:]:
        if ds.class_names != first.class_names:
            problems.append(f"{name}: classes {list(ds.class_names)} differ from {list(first.class_names)}")
        if ds.image_shape[2] != first.image_shape[2] or (not info.any_size and ds.image_shape != first.image_shape):
            problems.append(f"{name}: images {ds.image_shape} do not match {first.image_shape}")
    return problems


def check_spec(spec: MxJobSpec) -> None:
    """Raises MxSpecError listing every inconsistency (roles, datasets); the hyper-parameters were
    checked when their ``MxTrainParams`` was built."""
    problems = _role_problems(spec) + _dataset_problems(spec)
    if problems:
        raise MxSpecError(problems)


def contract_problems(meta: CheckpointMeta, network: str, ds: ImageDataset, same_names: bool) -> list[str]:
    """Why weights described by ``meta`` cannot serve ``network`` on ``ds``; empty when they can."""
    info = find_network(network)
    problems = []
    if meta.network != info.name:
        problems.append(f"weights are for {meta.network}, the job asks for {info.name}")
    if len(meta.class_names) != ds.n_classes or (same_names and tuple(meta.class_names) != ds.class_names):
        problems.append(f"weights were trained on classes {list(meta.class_names)}, data has {list(ds.class_names)}")
    if meta.image_shape[2] != ds.image_shape[2] or (not info.any_size and tuple(meta.image_shape) != ds.image_shape):
        problems.append(f"weights were trained on images {tuple(meta.image_shape)}, data has {ds.image_shape}")
    return problems
