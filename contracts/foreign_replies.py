"""The answers of the routes that speak another system's protocol: MXServer, MMS / TorchServe's
management and inference APIs, Fractal ML server, KServe v2, and the serving role's
connectome-native prediction. Each keeps its original's envelope."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel

from contracts.replies import Closed, FieldProblem, Instance, Number, Open, ServedModel


class MxState(Open):
    """MXServer's reply to /train, /eval, /test, /stop; refusals add ``error_num``, ``msg``, ``errors``."""

    task_id: str
    state_code: Literal["0", "1"]
    state_desc: str
    status: str | None = None


class TorchServeError(Closed):
    code: int
    type: str
    message: str


class TorchServeStatus(Closed):
    status: str


class TorchServeModelRef(Closed):
    modelName: str
    modelUrl: str


class TorchServeList(Closed):
    models: list[TorchServeModelRef]
    nextPageToken: str | None = None


class TorchServeWorker(Closed):
    id: str
    process: str
    pid: int | None
    host: str | None
    status: str


class TorchServeModel(Closed):
    modelName: str
    modelVersion: str
    modelUrl: str
    runtime: Literal["onnxruntime"]
    minWorkers: int
    maxWorkers: int
    batchSize: int
    maxBatchDelay: Number
    loadedAtStartup: bool
    isDefault: bool
    status: str
    error: str | None
    workersNote: str
    workers: list[TorchServeWorker]
    processes: list[Instance]
    verification: dict[str, Any] | None


class FractalStatus(Closed):
    code: int
    name: str
    description: str


class FractalReply(Closed):
    """Fractal's envelope; an error may name its fields in ``errors``."""

    http_status: FractalStatus
    errors: list[FieldProblem] | None = None


class FractalNames(FractalReply):
    model_list: list[str]


class FractalInfo(Closed):
    model: str
    description: str | None
    version: str
    status: str


class FractalInformation(FractalReply):
    model_list: list[FractalInfo]


class FractalModel(FractalReply):
    model: ServedModel
    versions: list[str] = Field(default_factory=list)


class FractalPrediction(FractalReply):
    values: list[Any]
    class_names: list[str] | None = None
    probabilities: list[list[float]] | None = None


class KServeError(Closed):
    error: str


class KServeServer(Closed):
    name: str
    version: str
    extensions: list[str]


class KServeLive(Closed):
    live: bool


class KServeReady(Closed):
    ready: bool


class KServeModelReady(Closed):
    name: str
    ready: bool


class KServeTensorMeta(Open):
    name: str
    datatype: str
    shape: list[int]


class KServeModel(Closed):
    name: str
    versions: list[str]
    platform: str
    inputs: list[KServeTensorMeta]
    outputs: list[KServeTensorMeta]


class KServeInferInput(Open):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class KServeInferRequest(Open):
    id: str | None = None
    inputs: list[KServeInferInput]
    outputs: list[dict[str, Any]] | None = None


class KServeTensor(Closed):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class KServeInferReply(Closed):
    model_name: str
    model_version: str
    outputs: list[KServeTensor]
    id: str | None = None


class ServingPing(Closed):
    health: str
    status: str


class SubjectPrediction(Closed):
    subject: str
    class_: str = Field(alias="class")
    class_index: int
    probabilities: dict[str, float]


class ConnectomePrediction(Closed):
    error_num: Literal[0]
    model: str
    version: str
    class_names: list[str]
    predictions: list[SubjectPrediction]


class ServingError(Open):
    """The connectome-native route's refusal: the API's envelope."""

    error_num: int
    msg: str
    errors: list[FieldProblem] | None = None


class TorchServeModels(RootModel[list[TorchServeModel]]):
    """``GET /models/<m>[/<v>|/all]``: one entry per version described."""


class MmsPrediction(RootModel[Any]):
    """TorchServe's answer: ``{"<class>": probability}`` for one subject, a list of those for
    several, or an uploaded model's first output as nested lists."""
