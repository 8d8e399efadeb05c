"""What the MXNet worker hands the engine: MXServer's training request, typed."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.statuses import TASK_TYPES
from models.mxnet_backend.checkpoint import CheckpointMeta
from models.mxnet_backend.images import ImageDataset
from models.mxnet_backend.networks import UnknownNetwork, find_network, input_problems
from models.mxnet_backend.schedule import INITIALIZERS


class MxSpecError(ValueError):
    """The job spec is inconsistent; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class MxTrainParams:
    """MXServer's hyper-parameters. The lr schedule multiplies the rate by ``lr_factor`` every
    ``lr_step_epochs`` epochs (0: constant), never below ``stop_factor_lr``."""

    num_epoch: int
    batch_size: int
    base_lr: float = 0.01
    wd: float = 0.0001
    momentum: float = 0.9
    lr_step_epochs: int = 0
    lr_factor: float = 1.0
    stop_factor_lr: float = 1e-8
    initializer: str = "xavier"  # xavier | uniform | normal | msra
    save_period: int = 1  # emit a "last" and a kept "epoch" checkpoint every this many epochs (and at the end)
    seed: int = 0
    shuffle: bool = True  # False: batches in the data's order (MXServer's data_param.shuffle "1")
    init_param: float | None = None  # the initializer's parameter: Xavier magnitude, Uniform scale,
    #                                  Normal sigma, MSRAPrelu slope (None: MXNet's default)
    lr_step_updates: int = 0  # > 0: the Factor step in updates, as MXServer counts it (overrides lr_step_epochs)
    lr_steps_updates: tuple[int, ...] = ()  # MultiFactor: multiply by lr_factor at each of these updates


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


def param_problems(p: MxTrainParams) -> list[str]:
    """One message per out-of-range hyper-parameter."""
    checks = [
        (p.num_epoch >= 1, "num_epoch must be ≥ 1"),
        (p.batch_size >= 1, "batch_size must be ≥ 1"),
        (p.base_lr > 0, "base_lr must be > 0"),
        (p.wd >= 0, "wd must be ≥ 0"),
        (0 <= p.momentum < 1, "momentum must be in [0, 1)"),
        (p.lr_step_epochs >= 0, "lr_step_epochs must be ≥ 0"),
        (0 < p.lr_factor <= 1, "lr_factor must be in (0, 1]"),
        (p.stop_factor_lr >= 0, "stop_factor_lr must be ≥ 0"),
        (str(p.initializer).lower() in INITIALIZERS, f"initializer must be one of {INITIALIZERS}"),
        (p.save_period >= 1, "save_period must be ≥ 1"),
    ]
    return [message for ok, message in checks if not ok]


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
    """Raises MxSpecError listing every inconsistency (hyper-parameters, roles, datasets)."""
    problems = param_problems(spec.params) + _role_problems(spec) + _dataset_problems(spec)
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
