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


class DetectionBox(Closed):
    """One detection, as MMS ``/predictions`` (a list per image) and Fractal (``values``: a list
    per image) answer a detector (built as dicts on the hot path)."""

    class_: str = Field(alias="class")
    class_index: int
    score: float
    box: list[float] = Field(description="[xmin, ymin, xmax, ymax] in the uploaded image's pixels")


class FractalPrediction(FractalReply):
    """``values``: a classifier's class indices; a detector's ``DetectionBox`` lists, one per image."""

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
    """A detector's ``outputs`` are what its /infer answers (``DetectionTensors``), not its ONNX
    graph's, and its ``parameters`` say ``task: detection``, its ``class_names`` and input size."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[KServeTensorMeta]
    outputs: list[KServeTensorMeta]
    parameters: dict[str, Any] | None = None


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


class DetectionTensors(Closed):
    """A detector's KServe /infer outputs (documentation: the reply is built as a dict): every
    detection of every image in the request, one row each, best first within an image."""

    boxes: list[list[float]] = Field(description="FP32 (D, 4): [xmin, ymin, xmax, ymax] in the uploaded image's pixels")
    classes: list[int] = Field(description="INT64 (D,): class index into the model's class_names")
    scores: list[float] = Field(description="FP32 (D,)")
    batch_index: list[int] = Field(description="INT64 (D,): which image of the request the row belongs to")


class KServeInferReply(Closed):
    """``outputs``: the model's output tensors; a detector's are ``DetectionTensors``'s fields."""

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
    several; a detector's list of ``DetectionBox`` for one image, a list of those lists for
    several; or an uploaded model's first output as nested lists."""
