"""trainyard's flat form of MXServer's requests (POST /train, /eval, /stop), typed and bounded.

MXServer's own nested bodies (``task_desc``) are ``app.schemas.mxserver_desc``, translated to
these by ``app.mxserver_translate``. The flat form is one JSON object with MXServer's names:
num_epoch, batch_size, base_lr, wd, momentum, lr_scheduler{type, step, factor, stop_factor_lr},
initializer, save_period, network, the dataset names, and ``context`` ([{device_name, device_id}]).
The lr step is counted in epochs (MXServer counted updates).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from contracts.numbers import Float, Int
from contracts.task_form import DatasetList, Name

INITIALIZER_NAMES = ("xavier", "uniform", "normal", "msra")
INITIALIZERS = {**{name: name for name in INITIALIZER_NAMES}, "msraprelu": "msra"}  # our names, MXServer's aliases
TaskId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
# A task id a client chooses (MXServer's clients send their own): letters, digits, "_", "-", ".".
ClientTaskId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]


def _initializer(value: Any) -> Any:
    """"Xavier", {"type": "MSRAPrelu", ...} (MXServer's shape) or "msra" → our lower-case name."""
    if isinstance(value, dict):
        value = value.get("type")
    if not isinstance(value, str) or value.strip().lower() not in INITIALIZERS:
        raise ValueError(f"must be one of {sorted(set(INITIALIZERS.values()))} (MXServer's Xavier, "
                         f"Uniform, Normal, MSRAPrelu are accepted too)")
    return INITIALIZERS[value.strip().lower()]


class Device(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_name: Literal["cpu", "gpu"]
    device_id: Int = Field(default=0, ge=0, le=63)


Context = Annotated[list[Device], Field(min_length=1, max_length=1)]
Initializer = Annotated[str, BeforeValidator(_initializer)]

# MXServer's ``target``: what a network is trained for, and the catalog input
# (contracts.catalog.ModelInfo.input) a network of that target has. "detect" is MXServer's
# data loader's spelling.
TARGET_INPUTS = {"classify": "image", "detection": "detection"}
TARGET_ALIASES = {"detect": "detection"}


def _target(value: Any) -> Any:
    if isinstance(value, str):
        value = TARGET_ALIASES.get(value.strip().lower(), value.strip().lower())
    if value not in TARGET_INPUTS:
        raise ValueError(f"must be one of {', '.join(TARGET_INPUTS)} ('detect' is read as 'detection')")
    return value


Target = Annotated[str, BeforeValidator(_target)]


class MxTrainParams(BaseModel):
    """The MXNet engine's hyper-parameters, their defaults and bounds written once: the worker
    builds one from a task's stored ``param_set`` and the requests take theirs from here. The
    rate is multiplied by ``lr_factor`` every ``lr_step_epochs`` epochs (0: constant), never
    below ``stop_factor_lr``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    num_epoch: Int = Field(ge=1, le=10_000)
    batch_size: Int = Field(ge=1, le=100_000)
    base_lr: Float = Field(default=0.01, gt=0, le=10)
    wd: Float = Field(default=0.0001, ge=0, le=1)
    momentum: Float = Field(default=0.9, ge=0, lt=1)
    lr_step_epochs: Int = Field(default=0, ge=0, le=100_000)
    lr_factor: Float = Field(default=1.0, gt=0, le=1)
    stop_factor_lr: Float = Field(default=1e-8, ge=0, le=10)
    initializer: Initializer = "xavier"
    # a "last" and a kept "epoch" checkpoint every this many epochs (and at the end)
    save_period: Int = Field(default=1, ge=1, le=10_000)
    seed: Int = Field(default=0, ge=0, le=2**31 - 1)
    shuffle: bool = True  # False: batches in the data's order (MXServer's data_param.shuffle "1")
    # the initializer's parameter: Xavier magnitude, Uniform scale, Normal sigma, MSRAPrelu slope (None: MXNet's)
    init_param: Float | None = Field(default=None, ge=0, le=100)
    # > 0: the Factor step in updates, as MXServer counts it (overrides lr_step_epochs)
    lr_step_updates: Int = Field(default=0, ge=0)
    lr_steps_updates: tuple[Int, ...] = ()  # MultiFactor: multiply by lr_factor at each of these updates


def _param(name: str):  # noqa: ANN202 - a pydantic FieldInfo
    """The engine's field ``name`` (default, bounds) for a request field that sets it."""
    return MxTrainParams.model_fields[name]


class LrScheduler(BaseModel):
    """MXNet's FactorScheduler: the rate × ``factor`` every ``step`` epochs (0: constant), never
    below ``stop_factor_lr``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    type: Literal["Factor"] = "Factor"
    step: Int = _param("lr_step_epochs")
    factor: Float = _param("lr_factor")
    stop_factor_lr: Float = _param("stop_factor_lr")



class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    proj_id: Name = "mxserver"
    proj_name: Name = "MXServer"
    task_name: Name = "mxserver-task"
    context: Context | None = None  # None: a GPU when any live MXNet worker has one, else the CPU
    # True: test on images an ancestor trained or validated on; the result is then marked.
    allow_seen_test: bool = False


class TrainRequest(_Request):
    """POST /train. ``trained_task_id`` makes it a fine-tune of that task's weights."""

    network: Name
    # None: what the network does (a detector detects, a classifier classifies)
    target: Target | None = None
    train_data: DatasetList = Field(min_length=1)
    val_data: DatasetList = Field(default_factory=list)
    test_data: DatasetList = Field(default_factory=list)
    num_epoch: Int = _param("num_epoch")
    batch_size: Int = _param("batch_size")
    base_lr: Float = _param("base_lr")
    wd: Float = _param("wd")
    momentum: Float = _param("momentum")
    lr_scheduler: LrScheduler = Field(default_factory=LrScheduler)
    initializer: Initializer = _param("initializer")
    save_period: Int = _param("save_period")
    seed: Int = _param("seed")
    trained_task_id: TaskId | None = None
    # trainyard's: True leaves out the pixel baseline beside the test result.
    skip_baseline: bool = False


class EvalRequest(_Request):
    """POST /eval: a finished /train task's model on test data, or, with ``checkpoint_epoch``,
    the checkpoint that task kept at that epoch (any state)."""

    trained_task_id: TaskId
    test_data: DatasetList = Field(min_length=1)
    batch_size: Int = Field(default=64, ge=1, le=100_000)
    checkpoint_epoch: Int | None = Field(default=None, ge=1, le=10_000)


class StopRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: TaskId


def requirements(req: TrainRequest | EvalRequest) -> dict[str, Any]:
    """What the dispatcher (tasks.placement.Requirements) reads: the device kind asked for."""
    return {"device": "auto" if req.context is None else req.context[0].device_name}


def param_set(req: TrainRequest | EvalRequest) -> dict[str, Any]:
    """The hyper-parameters as stored in ``form["param_set"]`` (what the task views show and
    tasks.mx_inputs reads)."""
    if isinstance(req, EvalRequest):
        return {"batch_size": req.batch_size, "trained_task_id": req.trained_task_id,
                "checkpoint_epoch": req.checkpoint_epoch}
    s = req.lr_scheduler
    return {"num_epoch": req.num_epoch, "batch_size": req.batch_size, "base_lr": req.base_lr, "wd": req.wd,
            "momentum": req.momentum, "lr_step_epochs": s.step, "lr_factor": s.factor,
            "stop_factor_lr": s.stop_factor_lr, "initializer": req.initializer,
            "save_period": req.save_period, "seed": req.seed, "trained_task_id": req.trained_task_id}
