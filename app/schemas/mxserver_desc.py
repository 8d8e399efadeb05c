"""MXServer's own request bodies (its ``task_desc``), typed field for field.

MXServer's clients post ``{"task_id": ..., "task_desc": <this, as a JSON string>}`` to /train and
/eval (or this object bare). Numbers come as strings; MXServer's yes/no flags are "0" for yes
and "1" for no (``for_training``, ``is_resume``, ``shuffle``, ``use_label``). Everything here is
checked by shape and range only; ``app.mxserver_translate`` maps it onto trainyard's request and
checks it against the database. A field this service cannot honour is refused by name, with why.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from contracts.mxserver_request import INITIALIZERS, Context, TaskId, Target
from contracts.numbers import Float, Int
from contracts.task_form import Name

# MXServer's flags: "0" is yes, "1" is no. Numbers 0/1 are taken as their strings.
Flag = Annotated[Literal["0", "1"], BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)]
INIT_PARAM = {"xavier": "magnitude", "uniform": "scale", "normal": "sigma", "msra": "slope"}


def _only(allowed: tuple[str, ...], why: str):  # noqa: ANN202 - a validator
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not supported: {why}")
        return value
    return check


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class NetConfig(_Strict):
    num_classes: Int | None = Field(default=None, ge=2, le=100_000)


class Net(_Strict):
    """``built_in``: a network from GET /api/v0/models. MXServer's other kind, a symbol JSON
    file on the server's disk, does not exist here."""

    type: Annotated[str, AfterValidator(_only(("built_in",), "only built-in networks (GET /api/v0/models) "
                                                             "exist here; there are no symbol files"))] = "built_in"
    name: Name
    config: NetConfig = Field(default_factory=NetConfig)


class Checkpoint(_Strict):
    """A stored checkpoint: ``prefix`` is a task id or the ``save_prefix`` a training used."""

    prefix: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    epoch: Int | None = Field(default=None, ge=1, le=10_000)


class ResumeConfig(_Strict):
    is_resume: Flag = "1"
    ckp: Checkpoint = Field(default_factory=Checkpoint)


class FileUrl(_Strict):
    """``rec``: train_rec/train_idx (and val_rec/val_idx) name an uploaded RecordIO pair (its file
    names) or a registered image dataset. ``raw``: *_img_path names a registered image dataset
    (e.g. an uploaded zip of class folders); a list file, if given, must name the same one."""

    train_rec: str | None = None
    train_idx: str | None = None
    val_rec: str | None = None
    val_idx: str | None = None
    train_img_path: str | None = None
    train_lst_path: str | None = None
    val_img_path: str | None = None
    val_lst_path: str | None = None


class DataParam(_Strict):
    source: Annotated[str, AfterValidator(_only(("local",), "this service reaches no URL; upload the data "
                                                           "(POST /api/v0/datasets) and name it"))] = "local"
    ftype: Literal["rec", "raw"] = "rec"
    batch_size: Int = Field(ge=1, le=100_000)
    shuffle: Flag = "0"
    name: Name = "data"
    shapes: list[Int] | None = Field(default=None, min_length=3, max_length=3)  # C, H, W
    file_url: FileUrl


class LabelParam(_Strict):
    name: Name = "softmax_label"
    shapes: list[Int] = Field(default_factory=lambda: [1])


class LrSchedulerConfig(_Strict):
    step: Int | None = Field(default=None, ge=1, le=100_000_000)  # updates (mini-batches)
    steps: list[Int] | None = Field(default=None, min_length=1, max_length=100)
    factor: Float = Field(default=1.0, gt=0, le=1)
    stop_factor_lr: Float = Field(default=1e-8, ge=0, le=10)


class LrScheduler(_Strict):
    type: Literal["Factor", "MultiFactor"] = "Factor"
    lr_scheduler_config: LrSchedulerConfig = Field(default_factory=LrSchedulerConfig)


class OptConfig(_Strict):
    base_lr: Float = Field(gt=0, le=10)
    wd: Float = Field(default=0.0, ge=0, le=1)
    momentum: Float = Field(default=0.0, ge=0, lt=1)


class Optimizer(_Strict):
    type: Annotated[str, AfterValidator(_only(("sgd",), "the MXNet engine trains with SGD (momentum, wd)"))] = "sgd"
    opt_config: OptConfig


def _init_name(value: Any) -> Any:
    if not isinstance(value, str) or value.strip().lower() not in INITIALIZERS:
        raise ValueError("must be one of Xavier, Uniform, Normal, MSRAPrelu")
    return INITIALIZERS[value.strip().lower()]


class InitConfig(_Strict):
    magnitude: Float | None = Field(default=None, gt=0, le=100)
    scale: Float | None = Field(default=None, gt=0, le=100)
    sigma: Float | None = Field(default=None, gt=0, le=100)
    slope: Float | None = Field(default=None, ge=0, le=100)


class Initializer(_Strict):
    type: Annotated[str, BeforeValidator(_init_name)] = "xavier"
    init_config: InitConfig = Field(default_factory=InitConfig)


class TrainParam(_Strict):
    begin_epoch: Int = Field(default=0, ge=0, le=10_000)
    num_epoch: Int = Field(ge=1, le=10_000)
    kvstore: Annotated[str, AfterValidator(_only(("local", "device"), "one worker trains each task; "
                                                                     "there is no distributed kvstore"))] = "local"
    save_prefix: Name | None = None
    save_period: Int = Field(default=1, ge=1, le=10_000)
    resume_config: ResumeConfig = Field(default_factory=ResumeConfig)
    data_param: DataParam
    label_param: LabelParam = Field(default_factory=LabelParam)
    lr_scheduler: LrScheduler = Field(default_factory=LrScheduler)
    optimizer: Optimizer
    initializer: Initializer = Field(default_factory=Initializer)


class Label(_Strict):
    cls_label: str | None = None
    detec_xml_label: str | None = None


class TestImgConfig(_Strict):
    """``img_list`` names the registered image datasets (or uploaded files) to evaluate on; their
    labels are stored with them, so ``label`` files are not read."""

    source: Annotated[str, AfterValidator(_only(("local",), "this service reaches no URL; upload the images "
                                                           "(POST /api/v0/datasets) and name them"))] = "local"
    use_label: Flag = "0"
    label: Label = Field(default_factory=Label)
    img_list: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=20)
    img_shapes: list[Int] | None = Field(default=None, min_length=2, max_length=2)  # H, W


class TestParam(_Strict):
    ckp: Checkpoint
    test_img_config: TestImgConfig
    batch_size: Int = Field(default=64, ge=1, le=100_000)


class Empty(_Strict):
    """A section this kind of request does not use: MXServer sends it as ``{}``."""


class _Desc(_Strict):
    classes: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] | None = None
    net: Net
    # "classify" or "detection" ("detect"); None: what net.name does (a detector detects)
    target: Target | None = None
    context: Context | None = None
    eval_metrics: list[Literal["acc", "accuracy", "ce"]] = Field(default_factory=lambda: ["acc"])


class TrainDesc(_Desc):
    for_training: Annotated[Flag, AfterValidator(_only(("0",), "\"1\" (not for training) is an evaluation; "
                                                             "post it to /eval"))] = "0"
    train_param: TrainParam
    test_param: Empty = Field(default_factory=Empty)


class TestDesc(_Desc):
    for_training: Annotated[Flag, AfterValidator(_only(("1",), "\"0\" (for training) is a training; "
                                                             "post it to /train"))] = "1"
    train_param: Empty = Field(default_factory=Empty)
    test_param: TestParam


# Keys only MXServer's nested body has ("target" is in the flat request too).
MXSERVER_KEYS = frozenset({"net", "train_param", "test_param", "for_training"})


def is_mxserver_desc(body: dict[str, Any]) -> bool:
    """MXServer's nested body (rather than trainyard's flat /train request)."""
    return bool(MXSERVER_KEYS & set(body))


__all__ = ["TrainDesc", "TestDesc", "TaskId", "is_mxserver_desc", "INIT_PARAM"]
