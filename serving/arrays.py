"""Numbers a client sent, as a checked array: rectangular, numeric, finite, of the model's
shape, at most MAX_ROWS rows. Each refusal is a BadInput naming the field and what was
expected. Used by every kind of input (serving.inputs) and by image arrays (serving.images)."""

from __future__ import annotations

import numpy as np

from serving.errors import BadInput
from serving.loaded import Port

MAX_ROWS = 1024  # subjects (or rows) in one request


def shape_text(shape) -> str:
    return "(" + ", ".join("N" if d == -1 else str(d) for d in shape) + ")"


def numeric_array(values, field: str, dtype=np.float32) -> np.ndarray:
    """``values`` (nested lists of numbers) as an array. Raises BadInput."""
    if isinstance(values, (str, bytes, dict)) or values is None:
        raise BadInput(f"{field}: expected numbers (nested lists), got {type(values).__name__}", field=field)
    try:
        arr = np.asarray(values, dtype=np.float64 if np.issubdtype(dtype, np.floating) else dtype)
    except (ValueError, TypeError, OverflowError):
        raise BadInput(f"{field}: expected a rectangular array of numbers (rows of equal length, no strings)",
                       field=field) from None
    if arr.dtype == np.object_:
        raise BadInput(f"{field}: expected numbers", field=field)
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise BadInput(f"{field}: holds NaN or infinite values; every value must be finite", field=field)
    return arr.astype(dtype, copy=False)


def check_shape(arr: np.ndarray, port: Port, field: str) -> np.ndarray:
    """``arr`` against the model's input shape (-1 matches anything). Raises BadInput."""
    want = port.shape
    if len(want) != arr.ndim or any(w != -1 and w != a for w, a in zip(want, arr.shape)):
        raise BadInput(f"{field}: input {port.name!r} takes shape {shape_text(want)} ({port.datatype}); "
                       f"got {tuple(arr.shape)}", field=field)
    if arr.ndim and arr.shape[0] > MAX_ROWS:
        raise BadInput(f"{field}: at most {MAX_ROWS} rows per request, got {arr.shape[0]}", field=field)
    return arr
