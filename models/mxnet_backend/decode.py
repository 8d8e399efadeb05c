"""Decoding uploaded PNG/JPEG bytes with MXNet's ``mxnet.image.imdecode``, and the resize policy.

Resize policy (documented for users): every image of a dataset must end up one size. When the
import names an ``image_size`` (H, W), every image not already that size is resized to it.
Otherwise the most common size among the images wins (ties: the size met first in name order) and
the others are resized to it. Resizing is bilinear and ignores aspect ratio; each import reports
how many images it resized, naming the first few.
"""

from __future__ import annotations

from collections import Counter

import mxnet as mx
import numpy as np

from models.mxnet_backend.archive import ImportLimits
from models.mxnet_backend.png import image_format, looks_complete, peek_image_size


class ImageProblem(ValueError):
    """One image cannot be used; the message says why (the caller adds its name)."""


def check_image_bytes(buf: bytes, limits: ImportLimits) -> None:
    """Raises ImageProblem unless ``buf`` is a complete PNG or JPEG within the pixel limit."""
    if image_format(buf) is None:
        raise ImageProblem("not a PNG or JPEG image")
    size = peek_image_size(buf)
    if size is None or min(size) < 1:
        raise ImageProblem("unreadable image header")
    if size[0] * size[1] > limits.max_image_pixels:
        raise ImageProblem(f"image is {size[0]}×{size[1]} pixels, more than the limit of {limits.max_image_pixels}")
    if not looks_complete(buf):
        raise ImageProblem("image data is truncated")


def decode_image(buf: bytes, channels: int, limits: ImportLimits) -> np.ndarray:
    """H×W×channels uint8 (RGB when 3 channels, grey when 1).

    Raises ImageProblem when the bytes are not a usable image.
    """
    check_image_bytes(buf, limits)
    try:  # MXNet runs the decode lazily: errors surface at asnumpy()
        arr = mx.image.imdecode(buf, flag=1 if channels == 3 else 0, to_rgb=True).asnumpy()
    except mx.base.MXNetError as exc:
        raise ImageProblem("unreadable image (decoding failed)") from exc
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr.astype(np.uint8, copy=False)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (H×W×C uint8) resized bilinearly to ``size`` = (H, W)."""
    h, w = size
    out = mx.image.imresize(mx.nd.array(image, dtype="uint8"), w, h, interp=1).asnumpy()
    if out.ndim == 2:
        out = out[:, :, None]
    return out.astype(np.uint8, copy=False)


def target_size(sizes: list[tuple[int, int]], wanted: tuple[int, int] | None) -> tuple[int, int]:
    """The size every image gets: ``wanted`` if given, else the most common of ``sizes``
    (ties: the first met). Raises ValueError when ``sizes`` is empty and nothing is wanted."""
    if wanted is not None:
        return int(wanted[0]), int(wanted[1])
    if not sizes:
        raise ValueError("no images to size")
    counts = Counter(sizes)
    best = max(counts.values())
    return next(s for s in sizes if counts[s] == best)


def unify_sizes(
    names: list[str], images: list[np.ndarray], wanted: tuple[int, int] | None
) -> tuple[np.ndarray, list[str]]:
    """Stack ``images`` into N×H×W×C after applying the resize policy; returns the stack and
    notes (empty when nothing was resized)."""
    sizes = [(im.shape[0], im.shape[1]) for im in images]
    size = target_size(sizes, wanted)
    resized = [n for n, s in zip(names, sizes) if s != size]
    out = [im if s == size else resize_image(im, size) for im, s in zip(images, sizes)]
    notes = []
    if resized:
        shown = ", ".join(resized[:5]) + (f" and {len(resized) - 5} more" if len(resized) > 5 else "")
        notes.append(f"resized {len(resized)} of {len(images)} images to {size[0]}×{size[1]}: {shown}")
    return np.stack(out).astype(np.uint8), notes
