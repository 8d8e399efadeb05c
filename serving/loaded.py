"""A model loaded into this process: its onnxruntime sessions (one per instance), signature,
contract and batcher. onnxruntime is imported when a model is loaded: the API builds its OpenAPI
document from the serving routes and never loads it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serving import arrivals
from contracts.serving_settings import ServingSettings
from serving.batcher import Batcher, Feeds, Pending

# onnxruntime's type strings → (KServe v2 datatype, numpy dtype)
ORT_TYPES = {
    "tensor(float)": ("FP32", np.float32), "tensor(double)": ("FP64", np.float64),
    "tensor(float16)": ("FP16", np.float16), "tensor(int64)": ("INT64", np.int64),
    "tensor(int32)": ("INT32", np.int32), "tensor(int16)": ("INT16", np.int16),
    "tensor(int8)": ("INT8", np.int8), "tensor(uint8)": ("UINT8", np.uint8),
    "tensor(bool)": ("BOOL", np.bool_),
}


@dataclass(frozen=True)
class Port:
    """One input or output: name, KServe datatype, numpy dtype, shape (-1 for a free axis)."""

    name: str
    datatype: str
    dtype: type
    shape: tuple[int, ...]

    def public(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def _port(arg) -> Port:
    datatype, dtype = ORT_TYPES.get(arg.type, ("BYTES", np.object_))
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or []))
    return Port(arg.name, datatype, dtype, shape)


def new_session(onnx: bytes, threads: int, providers: list[str]):  # noqa: ANN201 - an InferenceSession
    import onnxruntime as ort  # here, not at import: the API reads these routes for its document

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx, sess_options=options, providers=providers)


def providers() -> list[str]:
    """CUDA when onnxruntime has it and this process was given a GPU, else the CPU."""
    import os

    import onnxruntime as ort

    available = ort.get_available_providers()
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1")
    if gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class LoadedModel:
    """``predict(feeds)`` runs through the batcher; ``inputs``/``outputs`` are the signature."""

    def __init__(self, model_id: int, name: str, version: str, onnx: bytes, sha256: str,
                 contract: dict, settings: ServingSettings, threads: int):
        self.id, self.name, self.version, self.sha256 = model_id, name, version, sha256
        self.contract = contract or {}
        self._onnx, self._threads, self._providers = onnx, threads, providers()
        first = new_session(onnx, threads, self._providers)
        self.inputs = [_port(a) for a in first.get_inputs()]
        self.outputs = [_port(a) for a in first.get_outputs()]
        self._spare = [first]
        batchable = all(p.shape and p.shape[0] == -1 for p in self.inputs + self.outputs)
        self.batcher = Batcher(self._make_runner, settings, batchable, expecting=lambda: arrivals.on_the_way(name))

    def _make_runner(self):
        session = self._spare.pop() if self._spare else new_session(self._onnx, self._threads, self._providers)
        names = [p.name for p in self.outputs]
        return lambda feeds: session.run(names, feeds)

    def predict(self, feeds: Feeds, timeout: float, queued=None) -> Pending:  # noqa: ANN001
        """Raises BatcherStopped, RequestTimeout, onnxruntime errors for feeds it refuses."""
        return self.batcher.submit(feeds, timeout, queued)

    def input(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    @property
    def is_connectome(self) -> bool:
        return "regions" in self.contract and "class_names" in self.contract

    @property
    def is_image(self) -> bool:
        """A deployed image classifier (an MXNet task): takes ``image`` (N, H, W, C) pixels."""
        return self.contract.get("input") == "image" and "image_shape" in self.contract

    @property
    def is_detector(self) -> bool:
        """A deployed detector (an MXNet SSD task): images in, boxes out (``serving.detections``)."""
        return self.is_image and self.contract.get("task") == "detection"

    @property
    def is_classifier(self) -> bool:
        return self.is_connectome or (self.is_image and not self.is_detector)

    def unload(self) -> None:
        self.batcher.stop()
