"""MXNet's image semantics: images fitted to an asked ``data_shape`` (channels, height, width) as
``mx.image.ImageIter(data_shape=...)`` fits them with its default augmenters (MXNet 1.9.1's
``CreateAugmenter`` without ``resize`` or random crops: ``CenterCropAug`` with interpolation 2).

- channels: an image is decoded as colour when 3 are asked (a grey image's value in all three)
  and as grey when 1 is asked (a colour image's luminance as MXNet's decoder computes it);
- size: ``mx.image.center_crop``: the largest centred region of the asked aspect ratio (the
  whole image when it is smaller than the asked size), resized bicubically to the asked size.

Batches are fitted as they are read, so a task never holds its data at the asked size.
"""

from __future__ import annotations

import mxnet as mx
import numpy as np

DataShape = tuple[int, int, int]  # (C, H, W), MXNet's data_shape
INTERP = 2  # bicubic: CreateAugmenter's default inter_method
# libpng's rgb_to_gray(0.299, 0.587) in 1/32768, truncated: what mx.image.imdecode(flag=0)
# gives for a colour PNG (MXNet's OpenCV decodes PNGs with libpng).
GREY_WEIGHTS = np.array([9797, 19234, 3737], dtype=np.int64)


def fitted_shape(image_shape: tuple[int, int, int], data_shape: DataShape | None) -> tuple[int, int, int]:
    """(H, W, C) of images of ``image_shape`` (H, W, C) once fitted to ``data_shape``."""
    if data_shape is None:
        return tuple(image_shape)
    c, h, w = data_shape
    return h, w, c


def to_channels(images: np.ndarray, c: int) -> np.ndarray:
    """N×H×W×C uint8 with ``c`` channels: grey repeated to colour, colour to MXNet's grey."""
    if images.shape[3] == c:
        return images
    if c == 3:
        return np.repeat(images, 3, axis=3)
    grey = (images.astype(np.int64) @ GREY_WEIGHTS) >> 15
    return grey.astype(np.uint8)[..., None]


def fit_images(images: np.ndarray, data_shape: DataShape | None) -> np.ndarray:
    """N×H×W×C uint8 → N×h×w×c uint8 fitted to ``data_shape`` (c, h, w); as is when None or
    already that shape."""
    if data_shape is None:
        return images
    c, h, w = data_shape
    images = to_channels(images, c)
    if images.shape[1:3] == (h, w):
        return images
    out = np.empty((len(images), h, w, c), dtype=np.uint8)
    for i, image in enumerate(images):
        cropped, _ = mx.image.center_crop(mx.nd.array(image, dtype="uint8"), (w, h), interp=INTERP)
        out[i] = cropped.asnumpy().reshape(h, w, c)
    return out


def fitting_record(image_shape: tuple[int, int, int], data_shape: DataShape | None) -> dict | None:
    """The result's ``input_fitting`` for images of ``image_shape`` (H, W, C) fitted to
    ``data_shape``; None when nothing changes."""
    if data_shape is None or fitted_shape(image_shape, data_shape) == tuple(image_shape):
        return None
    h, w, c = image_shape
    to_c, to_h, to_w = data_shape
    steps = []
    if c != to_c:
        steps.append("decoded as colour (grey repeated to 3 channels)" if to_c == 3
                     else "decoded as grey (MXNet's luminance of the colour image)")
    if (h, w) != (to_h, to_w):
        steps.append(f"mx.image.center_crop to {to_h}×{to_w}: the largest centred region of that aspect "
                     f"ratio, resized bicubically (interp {INTERP}) where its size differs, as "
                     f"ImageIter's default augmenters do")
    return {"from": [c, h, w], "to": [to_c, to_h, to_w], "how": "; ".join(steps)}
