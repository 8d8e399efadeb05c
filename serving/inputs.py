"""Request data → onnxruntime feeds, with a 4xx naming the field and the expected shape for
every way it can be wrong (ragged lists, wrong shape, wrong dtype, NaN or infinity)."""

from __future__ import annotations

import math

import numpy as np

from serving.arrays import check_shape, numeric_array, shape_text
from serving.errors import BadInput
from serving.images import from_array, from_files
from serving.loaded import LoadedModel, Port
from serving.tensors import BinaryReader, binary_array, bytes_elements

# KServe v2 datatypes → numpy
DATATYPES = {
    "FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "INT64": np.int64, "INT32": np.int32,
    "INT16": np.int16, "INT8": np.int8, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "BOOL": np.bool_,
}
def connectome_feeds(model: LoadedModel, matrices, features=None, field: str = "matrices") -> dict:
    """One (R, R) matrix or a list of them (plus node features when the model takes them)."""
    r = int(model.contract["regions"])
    conn = numeric_array(matrices, field)
    if conn.ndim == 2:
        conn = conn[None]
    if conn.ndim != 3 or conn.shape[1:] != (r, r) or conn.shape[0] == 0:
        raise BadInput(f"{field}: the model takes raw {r}×{r} connectivity matrices: shape ({r}, {r}) "
                       f"or (N, {r}, {r}); got {tuple(np.shape(matrices))}", field=field)
    feeds = {"conn": check_shape(conn, model.input("conn") or _port("conn", (-1, r, r)), field)}
    f = int(model.contract.get("dataset_features", 0))
    if f > 0:
        if features is None:
            raise BadInput(f"features: the model takes {r}×{f} node features per subject", field="features")
        x = numeric_array(features, "features")
        x = x[None] if x.ndim == 2 else x
        if x.shape != (conn.shape[0], r, f):
            raise BadInput(f"features: expected shape ({conn.shape[0]}, {r}, {f}), got {tuple(x.shape)}",
                           field="features")
        feeds["features"] = x
    return feeds


def _port(name: str, shape) -> Port:
    return Port(name, "FP32", np.float32, tuple(shape))


def kserve_feeds(model: LoadedModel, inputs, binary: BinaryReader | None = None) -> dict:
    """KServe v2 ``inputs``: ``[{name, shape, datatype, data | parameters.binary_data_size}]``
    (``binary``: the bytes after the JSON header, for the binary tensor extension). Raises
    BadInput, BadRequest."""
    binary = binary or BinaryReader(memoryview(b""))
    if not isinstance(inputs, list) or not inputs:
        raise BadInput("inputs: expected a non-empty list of {name, shape, datatype, data}", field="inputs")
    feeds = {}
    for i, item in enumerate(inputs):
        feeds.update(_kserve_input(model, item, f"inputs[{i}]", binary))
    binary.finish()
    missing = [p.name for p in model.inputs if p.name not in feeds]
    if missing:
        raise BadInput(f"inputs: missing {', '.join(missing)}; the model takes "
                       + ", ".join(f"{p.name} {shape_text(p.shape)} {p.datatype}" for p in model.inputs),
                       field="inputs")
    rows = {a.shape[0] for a in feeds.values() if a.ndim}
    if len(rows) > 1:
        raise BadInput("inputs: every input must have the same batch size", field="inputs")
    return feeds


def _kserve_input(model: LoadedModel, item, field: str, binary: BinaryReader) -> dict:
    if not isinstance(item, dict):
        raise BadInput(f"{field}: expected an object", field=field)
    name, shape, datatype = item.get("name"), item.get("shape"), item.get("datatype")
    params = item.get("parameters") if isinstance(item.get("parameters"), dict) else {}
    port = model.input(name) if isinstance(name, str) else None
    if port is None:
        known = ", ".join(p.name for p in model.inputs)
        raise BadInput(f"{field}.name: the model has no input {name!r}; its inputs: {known}", field=f"{field}.name")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise BadInput(f"{field}.shape: expected a list of non-negative integers", field=f"{field}.shape")
    if datatype == "BYTES" and model.is_image and port.name == "image":
        return _encoded_images(model, item, params, shape, field, binary)
    if len(shape) != len(port.shape):  # before numpy sees it: it refuses over 64 dimensions
        raise BadInput(f"{field}.shape: input {port.name!r} takes shape {shape_text(port.shape)} ({port.datatype}); "
                       f"got {len(shape)} dimensions", field=f"{field}.shape")
    if datatype != port.datatype:
        raise BadInput(f"{field}.datatype: input {port.name!r} takes {port.datatype}"
                       + (" (or BYTES: PNG/JPEG files)" if model.is_image else "") + f", got {datatype!r}",
                       field=f"{field}.datatype")
    dtype = DATATYPES.get(datatype, np.float32)
    if "binary_data_size" in params:
        arr = binary_array(binary.take(params["binary_data_size"], field), shape, dtype, field)
    else:
        arr = numeric_array(item.get("data"), f"{field}.data", dtype)
        if arr.size != math.prod(shape):
            raise BadInput(f"{field}.data: holds {arr.size} values, shape {shape} needs {math.prod(shape)}",
                           field=f"{field}.data")
        arr = arr.reshape(shape)
    return {port.name: check_shape(arr, port, f"{field}.shape")}


def _encoded_images(model: LoadedModel, item: dict, params: dict, shape: list[int], field: str,
                    binary: BinaryReader) -> dict:
    """An image model's ``image`` input as BYTES: PNG/JPEG files, shape [N] or [N, 1]."""
    files = encoded_files(item, params, shape, field, binary)
    return from_files(model, [(f"{field}[{i}]", f) for i, f in enumerate(files)])[0]


def encoded_files(item: dict, params: dict, shape: list[int], field: str, binary: BinaryReader) -> list[bytes]:
    """The files of a BYTES ``image`` input, shape [N] or [N, 1] with N ≥ 1: base64 strings in
    its ``data``, or the binary tensor extension's elements. Raises BadInput."""
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1) or shape[0] < 1:
        raise BadInput(f"{field}.shape: BYTES images take shape [N] or [N, 1] with N ≥ 1, got {shape}",
                       field=f"{field}.shape")
    if "binary_data_size" in params:
        return bytes_elements(binary.take(params["binary_data_size"], field), math.prod(shape), f"{field}.data")
    data = item.get("data")
    if not isinstance(data, list) or len(data) != math.prod(shape) or not all(isinstance(d, str) for d in data):
        raise BadInput(f"{field}.data: BYTES images as JSON are {math.prod(shape)} base64 strings; or send "
                       "them with the binary tensor extension", field=f"{field}.data")
    return [base64_bytes(d, f"{field}.data") for d in data]


def base64_bytes(text: str, field: str) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput(f"{field}: not base64", field=field) from None


def values_feeds(model: LoadedModel, values, field: str = "values") -> dict:
    """Fractal's ``{"values": [...]}``: one sample (the input's shape without the batch axis) or
    a batch, for a model with one input."""
    if model.is_connectome:
        return connectome_feeds(model, values, field=field)
    if model.is_image:
        return from_array(model, values, field)
    if len(model.inputs) != 1:
        raise BadInput(f"{field}: the model takes several inputs ({', '.join(p.name for p in model.inputs)}); "
                       "use the KServe v2 /infer route", field=field)
    port = model.inputs[0]
    arr = numeric_array(values, field, port.dtype)
    if arr.ndim == len(port.shape) - 1:
        arr = arr[None]
    return {port.name: check_shape(arr, port, field)}
