"""Resizing an image as MXNet's ``image.imresize(..., interp=9)`` does it (GluonCV's detection
transforms): OpenCV's bicubic (A = −0.75) when both sides grow, its area averaging when both
shrink, bilinear otherwise, pixel centres aligned, edges repeated. Computed in float32 and
rounded, where OpenCV uses fixed point: a pixel may differ from MXNet's by one grey level
(``tests/mxnet/test_detector_export.py``). numpy only: the serving role fits uploaded images to
a detector's input with it."""

from __future__ import annotations

import math

import numpy as np

_A = -0.75  # OpenCV's cubic coefficient


def resize_like_mxnet(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) uint8 → (height, width, C) uint8."""
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    method = "cubic" if height > h and width > w else "area" if height < h and width < w else "linear"
    rows, cols = _weights(h, height, method), _weights(w, width, method)
    out = np.einsum("yh,hwc,xw->yxc", rows, image.astype(np.float32), cols, optimize=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _weights(n_in: int, n_out: int, method: str) -> np.ndarray:
    """(n_out, n_in) float32: each output pixel as a weighted sum of input pixels along one axis."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    scale = n_in / n_out
    for d in range(n_out):
        for index, weight in _taps(d, scale, n_in, method):
            m[d, min(max(index, 0), n_in - 1)] += weight
    return m.astype(np.float32)


def _taps(d: int, scale: float, n_in: int, method: str) -> list[tuple[int, float]]:
    if method == "area":
        return _area_taps(d, scale, n_in)
    f = (d + 0.5) * scale - 0.5
    s = math.floor(f)
    t = f - s
    if method == "linear":
        if s < 0:
            s, t = 0, 0.0
        if s >= n_in - 1:
            s, t = n_in - 1, 0.0
        return [(s, 1 - t), (s + 1, t)]
    c0 = ((_A * (t + 1) - 5 * _A) * (t + 1) + 8 * _A) * (t + 1) - 4 * _A
    c1 = ((_A + 2) * t - (_A + 3)) * t * t + 1
    c2 = ((_A + 2) * (1 - t) - (_A + 3)) * (1 - t) * (1 - t) + 1
    return [(s - 1, c0), (s, c1), (s + 1, c2), (s + 2, 1 - c0 - c1 - c2)]


def _area_taps(d: int, scale: float, n_in: int) -> list[tuple[int, float]]:
    """OpenCV's ``computeResizeAreaTab``: the input cells the output cell covers, by covered length."""
    start, end = d * scale, (d + 1) * scale
    first, last = math.ceil(start), math.floor(end)
    cell = min(scale, n_in - start)
    taps = []
    if first - start > 1e-3:
        taps.append((first - 1, (first - start) / cell))
    taps += [(k, 1 / cell) for k in range(first, min(last, n_in))]
    if end - last > 1e-3 and last < n_in:
        taps.append((last, min(min(end - last, 1.0), cell) / cell))
    return taps
