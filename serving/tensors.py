"""KServe v2 tensors beyond JSON lists: the binary tensor data extension (raw little-endian,
row-major bytes after the JSON header; BYTES elements as a 4-byte length and the bytes) and
the classification extension ("<value>:<index>:<label>" strings), as Triton defines them."""

from __future__ import annotations

import math
import struct

import numpy as np

from serving.errors import BadInput, BadRequest


class BinaryReader:
    """The request's tensor bytes, taken in the order its inputs name them."""

    def __init__(self, data: memoryview):
        self.data, self.offset = data, 0

    def take(self, size, field: str) -> memoryview:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadInput(f"{field}.parameters.binary_data_size: expected a non-negative integer", field=field)
        if self.offset + size > len(self.data):
            raise BadRequest(f"{field}.parameters.binary_data_size: {size} bytes, but only "
                             f"{len(self.data) - self.offset} are left after the JSON header", field=field)
        out = self.data[self.offset : self.offset + size]
        self.offset += size
        return out

    def finish(self) -> None:
        left = len(self.data) - self.offset
        if left:
            raise BadRequest(f"body: {left} bytes after the JSON header belong to no input's binary_data_size",
                             field="body")


def binary_array(raw: memoryview, shape: list[int], dtype, field: str) -> np.ndarray:
    """A tensor from its raw bytes. Raises BadInput when the size does not fit the shape, or
    floating-point values are not finite."""
    dt = np.dtype(dtype).newbyteorder("<")
    need = math.prod(shape) * dt.itemsize
    if len(raw) != need:
        raise BadInput(f"{field}.parameters.binary_data_size: shape {shape} of {np.dtype(dtype).name} needs "
                       f"{need} bytes, got {len(raw)}", field=field)
    arr = np.frombuffer(raw, dtype=dt).reshape(shape).astype(np.dtype(dtype), copy=False)
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise BadInput(f"{field}.data: holds NaN or infinite values; every value must be finite", field=field)
    return arr


def bytes_elements(raw: memoryview, count: int, field: str) -> list[bytes]:
    """``count`` BYTES elements, each a little-endian uint32 length and that many bytes."""
    out, at = [], 0
    for _ in range(count):
        if at + 4 > len(raw):
            raise BadInput(f"{field}: the BYTES data ends before its {count} elements", field=field)
        (n,) = struct.unpack_from("<I", raw, at)
        if at + 4 + n > len(raw):
            raise BadInput(f"{field}: a BYTES element's length runs past the data", field=field)
        out.append(bytes(raw[at + 4 : at + 4 + n]))
        at += 4 + n
    if at != len(raw):
        raise BadInput(f"{field}: {len(raw) - at} bytes after its {count} BYTES elements", field=field)
    return out


def encode_bytes(elements: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(e.encode())) + e.encode() for e in elements)


def to_binary(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr)
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()


def classification(arr: np.ndarray, count, labels: list[str], field: str) -> np.ndarray:
    """The top ``count`` classes of each row of a (B, K) output as Triton's
    "<value>:<index>[:<label>]" strings, shape (B, count). Raises BadInput."""
    arr = np.asarray(arr)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise BadInput(f"{field}.parameters.classification: expected a positive integer", field=field)
    if arr.ndim != 2:
        raise BadInput(f"{field}.parameters.classification: the output has shape {list(arr.shape)}, not "
                       "(batch, classes)", field=field)
    count = min(count, arr.shape[1])
    top = np.argsort(-arr, axis=1, kind="stable")[:, :count]
    rows = [[f"{float(arr[b, i]):g}:{int(i)}" + (f":{labels[i]}" if i < len(labels) else "") for i in row]
            for b, row in enumerate(top)]
    return np.array(rows, dtype=object)
