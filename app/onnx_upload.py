"""Checking an uploaded ONNX file before it enters the registry (Fractal's PUT): size limit,
``onnx.checker``, no external data (a path the server would read), and its signature read.

``onnx`` is imported on the first upload, not with the app: importing it costs about 0.7 s of
CPU, paid by every gunicorn worker at start and again each time one is recycled."""

from __future__ import annotations

import functools

from webcommon.errors import ApiError


@functools.cache
def _datatypes() -> dict[int, str]:
    from onnx import TensorProto

    return {TensorProto.FLOAT: "FP32", TensorProto.DOUBLE: "FP64", TensorProto.FLOAT16: "FP16",
            TensorProto.INT64: "INT64", TensorProto.INT32: "INT32", TensorProto.INT16: "INT16",
            TensorProto.INT8: "INT8", TensorProto.UINT8: "UINT8", TensorProto.BOOL: "BOOL"}


def check_onnx(data: bytes, limit_mb: int, field: str = "path") -> dict:
    """The file's signature ``{"inputs": [...], "outputs": [...]}``. Raises ApiError 413 (too
    large) or 422 naming what is wrong."""
    if len(data) > limit_mb * 1024 * 1024:
        raise ApiError(413, f"the ONNX file is larger than {limit_mb} MiB")
    if not data:
        raise _bad(field, "the file is empty")
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - protobuf decode errors of several kinds
        raise _bad(field, "not an ONNX model (the protobuf could not be parsed)") from None
    external = [t.name for t in _tensors(model) if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise _bad(field, f"the model refers to external data ({', '.join(external[:3])}); "
                          "upload a self-contained file")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - onnx.checker.ValidationError and friends
        raise _bad(field, f"the ONNX checker refused it: {str(exc).splitlines()[0][:300]}") from None
    initializers = {t.name for t in model.graph.initializer}
    inputs = [_port(v) for v in model.graph.input if v.name not in initializers]
    if not inputs or not model.graph.output:
        raise _bad(field, "the model has no inputs or no outputs")
    return {"inputs": inputs, "outputs": [_port(v) for v in model.graph.output],
            "opset": [{"domain": o.domain or "ai.onnx", "version": o.version} for o in model.opset_import],
            "producer": f"{model.producer_name} {model.producer_version}".strip()}


def _tensors(model):
    yield from model.graph.initializer
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t


def _port(value) -> dict:
    t = value.type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
    return {"name": value.name, "datatype": _datatypes().get(t.elem_type, "UNSUPPORTED"), "shape": shape}


def _bad(field: str, problem: str) -> ApiError:
    return ApiError(422, f"{field}: {problem}", [{"field": field, "problem": problem}])
