"""The shapes of the native API's answers (``/api/v0``, ``/ping``, ``/healthz``): the views return
these models (``webcommon.replies`` writes them as JSON), the OpenAPI documents (``app.openapi``,
``serving.openapi``) are built from them, and clients read them. ``Closed`` models forbid keys
they do not name, so a view and its shape cannot drift apart: a reply the model does not
describe fails where the view builds it.

``Open`` models allow keys they do not name: the dataset's metadata and an epoch's metrics carry
keys that depend on the model and the data. A task's result is ``contracts.task_result``'s shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, WithJsonSchema, create_model
from pydantic_core import core_schema

from contracts.catalog import ImageInput
from contracts.statuses import TASK_TYPES, Backend, DatasetKind, TaskStatus
from contracts.task_result import METRIC_FIELDS, StoredTaskResult

Status = Literal[tuple(s.value for s in TaskStatus)]
TaskType = Literal[TASK_TYPES]
Iso = str  # an ISO 8601 time with its UTC offset
# A JSON number as the view has it: an integer stays an integer (``float`` would write 3 as 3.0).
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class _AsStored:
    """A task's stored result passes as it is (any JSON object: rows written before a key was
    renamed, integers where the result now has floats): ``TaskResult`` checked it when it was
    written. The document shows it as ``StoredTaskResult``."""

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: Any) -> core_schema.CoreSchema:
        return core_schema.nullable_schema(core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema()))

    @classmethod
    def __get_pydantic_json_schema__(cls, _core: Any, handler: Any) -> dict[str, Any]:
        return handler(core_schema.nullable_schema(StoredTaskResult.__pydantic_core_schema__))


StoredResult = Annotated[StoredTaskResult | None, _AsStored]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FieldProblem(Closed):
    field: str = Field(description="the field path: param_set.epochs, train_data[0], a query parameter")
    problem: str


class ApiErrorReply(Open):
    """Every refusal of the native API (and MXServer's routes, which add their state fields)."""

    error_num: int = Field(description="the HTTP status")
    msg: str
    errors: list[FieldProblem] = Field(default_factory=list, description="one entry per bad field")
    status: Status | None = Field(None, description="409 on a stop: the task's state")


class Ping(Closed):
    health: Literal["healthy!"]


class Health(Closed):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "unreachable"]]


class ParamSetView(Open):
    learning_rate: Number | None = None
    batch_size: int | None = None
    epochs: int | None = None


class Progress(Closed):
    epoch: int
    epochs: int
    percent: Number
    eta_seconds: Number | None
    eta_at: Iso | None


class Links(Closed):
    self: str
    full: str
    epochs: str
    stop: str
    model: str
    curves: str
    confusion: str


class MxProgress(Closed):
    time: Iso | None
    task_state: str


class MxServerState(Closed):
    task_id: str
    state_code: Literal["0", "1"]
    state_desc: str
    task_progresses: list[MxProgress]


Metrics = create_model(
    "Metrics", __config__=ConfigDict(extra="forbid"),
    __doc__="A task's headline numbers: the result's metric fields (contracts.task_result) it holds.",
    **{name: (Number | None, None) for name in sorted(METRIC_FIELDS)},
)


class TaskSummary(Closed):
    task_id: str
    proj_id: str
    proj_name: str
    task_name: str
    task_type: TaskType
    model: str
    backend: Backend
    status: Status
    task_status: Literal["Submitted", "Running", "Success", "Failed"]
    attempt: int
    param_set: dict[str, Any]
    train_data: list[str]
    val_data: list[str]
    enable_test: bool
    test_data: list[str]
    parent_task_id: str | None
    sweep_id: str | None = None
    metrics: Metrics
    test_on_seen_subjects: bool
    created_at: Iso | None
    finished_at: Iso | None


class TaskLight(Closed):
    """``GET /api/v0/tasks/<id>``: what changes while it runs, headline metrics, links."""

    task_id: str
    status: Status
    task_status: str
    task_type: str
    model: str
    backend: str
    attempt: int
    sweep_id: str | None = None
    progress: Progress
    latest_epoch: dict[str, Any] | None
    metrics: Metrics
    error: str | None
    waiting_reason: str | None
    queue_position: int | None
    created_at: Iso | None
    started_at: Iso | None
    finished_at: Iso | None
    links: Links
    mxserver: MxServerState | None = None


class TaskFull(TaskSummary):
    """``?view=full``: the listing's row, the progress and the whole result."""

    progress: Progress
    latest_epoch: dict[str, Any] | None
    result: StoredResult
    error: str | None
    waiting_reason: str | None
    queue_position: int | None
    worker: str | None
    device: str | None
    started_at: Iso | None
    heartbeat_at: Iso | None
    updated_at: Iso | None
    links: Links
    mxserver: MxServerState | None = None


class TaskForm(Open):
    task_id: str
    model: Any = None


class NewTaskReply(Closed):
    error_num: Literal[0]
    msg: str
    task_form: TaskForm


class TaskPage(Closed):
    tasks: list[TaskSummary]
    next_cursor: str | None
    sort: str
    limit: int
    selection_warning: str | None = Field(
        None, description="filtered by sweep_id and sorted by a test metric: why a task chosen from this order is "
                          "biased (contracts.selection); null otherwise")


class SweepTask(Closed):
    task_id: str
    task_name: str
    status: Status
    params: dict[str, Any] = Field(description="the task's param_set")
    created_at: Iso | None
    score: Number | None = Field(description="the selection metric: of its validation split, or the mean over a "
                                            "cross-validated task's folds' validation parts")


class ValueWithInterval(Closed):
    value: Number
    low: Number | None = Field(description="its own 95% interval, where the result gives one")
    high: Number | None


class Selection(Closed):
    metric: str
    direction: Literal["min", "max"]
    n_candidates: int = Field(description="the sweep's SUCCEEDED tasks that record the metric: what it chose from")
    chosen_task_id: str | None = Field(description="the best score; among equal ones the earliest created")
    chosen_test: dict[str, ValueWithInterval] | None = Field(description="the chosen task's test metrics, with their "
                                                                 "95% intervals where they have one")
    selected_on: Literal["validation", "inner_cv"]


class Sweep(Closed):
    """``GET /api/v0/sweeps/<sweep_id>``: the sweep's tasks the caller sees, oldest first, and its
    selection record."""

    sweep_id: str
    tasks: list[SweepTask]
    selection: Selection


class Epoch(Open):
    epoch: int
    attempt: int


class Epochs(Closed):
    task_id: str
    status: Status
    epochs: list[Epoch]


class ComparedTask(Closed):
    task_id: str
    task_name: str
    model: str
    status: Status
    metrics: dict[str, ValueWithInterval] = Field(
        description="the result's metric fields (test_accuracy, test_n, ...), the _low and _high of each as its "
                    "interval")


class PairedTest(Closed):
    metric: str = Field(description="test_accuracy, test_balanced_accuracy or test_roc_auc")
    n_common: int = Field(description="the subjects both tasks were tested on")
    difference: Number = Field(description="a's value minus b's, on those subjects")
    low: Number | None = Field(description="the difference's 95% interval: paired percentile bootstrap over subjects")
    high: Number | None
    p_value: Number | None = Field(description="two-sided: McNemar's exact test (accuracy), the paired bootstrap "
                                              "(the others)")
    p_value_holm: Number | None = Field(description="Holm-adjusted over the pairable pairs, each metric apart; null "
                                                   "when only one pair is pairable")
    method: str
    resamples: int = Field(description="bootstrap resamples where the metric was defined for both")
    seed: int


class ComparedPair(Closed):
    a: str
    b: str
    pairable: bool = Field(description="tested on the same subjects (same dataset checksum and subject ids), with "
                                       "per-subject predictions stored")
    n_common: int | None
    reason: Literal["no_predictions", "different_dataset", "different_subjects"] | None
    detail: str | None = Field(description="why the pair is not pairable, in words")
    paired: list[PairedTest]


class Comparison(Closed):
    """``GET /api/v0/compare``: each task's metrics with their intervals, each pair's paired tests."""

    tasks: list[ComparedTask]
    pairs: list[ComparedPair] = Field(description="every pair of the tasks, in the order given (a before b)")
    correction: Literal["holm"] | None = Field(description="holm when two or more pairs are pairable")
    correction_note: str | None


class StopReply(Closed):
    error_num: Literal[0]
    msg: str
    task_id: str
    status: Status


class ModelInfo(Closed):
    task_id: str
    model: str
    backend: str
    format: str
    size: int
    sha256: str
    contract: dict[str, Any] | None
    param_set: dict[str, Any] | None
    download: str
    how_to_load: str


class LogLine(Closed):
    seq: int
    attempt: int
    at: Iso
    level: str
    logger: str
    message: str


class LogPage(Closed):
    task_id: str
    status: Status
    lines: list[LogLine]
    next_cursor: int
    done: bool


class Checkpoint(Closed):
    epoch: int
    size: int
    sha256: str
    download: str


class Checkpoints(Closed):
    task_id: str
    checkpoints: list[Checkpoint]


class Dataset(Open):
    """A registered dataset; its metadata (subjects, regions, classes, ...) sits beside these."""

    name: str
    kind: DatasetKind
    status: Literal["READY", "VALIDATING", "REJECTED"]
    source_filename: str | None
    size: int
    checksum: str | None
    created_at: Iso | None
    proj_id: str | None = Field(None, description="its project (None: shared with everyone)")


class DatasetReply(Closed):
    error_num: Literal[0]
    msg: str
    dataset: Dataset


class Datasets(Closed):
    datasets: list[Dataset]


class Done(Closed):
    error_num: Literal[0]
    msg: str


class CatalogModel(Closed):
    name: str
    aliases: list[str]
    backend: Backend
    input: DatasetKind = Field(description="the kind of dataset it trains on")
    description: str
    contract: list[str]
    iterative: bool
    image: ImageInput | None = Field(None, description="image networks: the input they take")


class Catalog(Closed):
    models: list[CatalogModel]


class Gpu(Closed):
    index: int
    name: str
    uuid: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    utilization_percent: int | None
    temperature_c: int | None
    task_id: str | None


class FleetGpu(Gpu):
    worker: str
    host: str | None


class WorkerView(Closed):
    worker: str
    host: str | None
    backend: str | None
    queues: Any
    current_task_id: str | None
    heartbeat_at: Iso | None
    gpus: list[Gpu]


class Fleet(Closed):
    gpus: list[FleetGpu]
    workers: list[WorkerView]


class QueueView(Closed):
    queue: str
    backend: str
    depth: int
    queued: int
    running: int
    pools: dict[str, int]


class HeldTask(Closed):
    task_id: str
    worker: str | None
    device: str | None
    queue: str | None
    status: str


class Queues(Closed):
    queues: list[QueueView]
    held: list[HeldTask]


class MxGpu(Closed):
    """MXServer's ``GET /gpu`` entry: every figure a string, memory in bytes."""

    free_mem: str
    used_mem: str
    total_mem: str
    device_id: str


class Instance(Closed):
    process: str
    host: str | None
    pid: int | None
    state: str
    instances: int
    waiting: int
    heartbeat_at: Iso


class ServedModel(Closed):
    """A model registry row (no blob)."""

    name: str
    version: str
    default: bool
    status: Literal["EXPORTING", "READY", "FAILED"]
    error: str | None
    description: str | None
    source: dict[str, Any]
    onnx: dict[str, Any]
    contract: dict[str, Any] | None
    verification: dict[str, Any] | None
    settings: dict[str, Any]
    serving: list[Instance]
    created_at: Iso
    updated_at: Iso
    proj_id: str | None = Field(None, description="its project (None: shared with everyone)")


class DeployLinks(Closed):
    status: str
    predict: str
    kserve: str


class DeployReply(Closed):
    error_num: Literal[0]
    msg: str
    model: ServedModel
    links: DeployLinks


class MxGpus(RootModel[list[MxGpu]]):
    """MXServer's ``GET /gpu``: ``[]`` when no live worker has a GPU."""


Role = Literal["viewer", "editor", "admin"]


class ProjectRole(Closed):
    id: str
    name: str | None
    role: Role | None = Field(description="the caller's role (None: a service admin who is no member)")


class WhoamiUser(Closed):
    id: int
    name: str
    is_admin: bool


class WhoamiToken(Closed):
    id: int | None
    name: str | None
    read_only: bool
    projects: list[str] | None
    expires_at: Iso | None


class Whoami(Closed):
    user: WhoamiUser
    token: WhoamiToken
    projects: list[ProjectRole]


class Projects(Closed):
    projects: list[ProjectRole]


class Project(Closed):
    id: str
    name: str | None


class ProjectLimits(Closed):
    max_running: int | None
    max_gpus: int | None


class ProjectUsage(Closed):
    running: int
    gpus: int
    storage_bytes: int


class ProjectDetail(Closed):
    """A project, its own limits (null: the service's default), the limits in force, its usage."""

    id: str
    name: str | None
    role: str | None
    max_running: int | None
    max_gpus: int | None
    max_storage_mb: int | None
    limits: ProjectLimits
    usage: ProjectUsage


class AuditEntry(Closed):
    id: int
    at: Iso | None
    user: str | None
    user_id: int | None
    token_id: int | None
    action: str
    method: str
    path: str
    status: int
    proj_id: str | None
    target: str | None
    client: str | None


class AuditLog(Closed):
    entries: list[AuditEntry]
    next_before_id: int | None


class ProjectCreated(Closed):
    error_num: Literal[0]
    msg: str
    project: Project


class Member(Open):
    user_id: int
    user: str = Field(description="the user's name")
    role: Role


class Members(Closed):
    project: str
    members: list[Member]


class MemberAdded(Closed):
    error_num: Literal[0]
    msg: str
    member: Member


class Token(Closed):
    id: int
    name: str
    user_id: int
    read_only: bool
    projects: list[str] | None
    created_at: Iso | None
    expires_at: Iso | None
    revoked_at: Iso | None
    last_used_at: Iso | None


class TokenCreated(Closed):
    error_num: Literal[0]
    msg: str
    token: Token
    secret: str = Field(description="shown in this answer only")


class Tokens(Closed):
    tokens: list[Token]


class TokenRevoked(Closed):
    error_num: Literal[0]
    msg: str
    token: Token
