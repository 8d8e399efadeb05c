"""Images a client sends to an image model (a deployed MXNet task): PNG/JPEG files decoded with
Pillow, or arrays of pixel values, made into the model's ``image`` feed, (N, H, W, C) float32
pixel values 0..255 at the size and channel count it was trained on. The normalisation is in
the ONNX graph. A file of another size is resized (bilinear, as dataset imports do); an array
must have the model's shape."""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from contracts.settings import get_settings
from serving.errors import BadInput
from serving.arrays import MAX_ROWS, numeric_array
from serving.loaded import LoadedModel

FORMATS = ("PNG", "JPEG")


def image_shape(model: LoadedModel) -> tuple[int, int, int]:
    h, w, c = (int(v) for v in model.contract["image_shape"])
    return h, w, c


def decode(model: LoadedModel, data: bytes, field: str = "file") -> tuple[np.ndarray, bool]:
    """(H, W, C) uint8 pixels of a PNG/JPEG file and whether it was resized. Raises BadInput
    (``opened``)."""
    from PIL import Image

    h, w, c = image_shape(model)
    img = opened(data, c, field)
    resized = img.size != (w, h)
    if resized:
        img = img.resize((w, h), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return (arr[:, :, None] if arr.ndim == 2 else arr), resized


def opened(data: bytes, channels: int, field: str = "file"):  # noqa: ANN201 - a PIL image
    """A PNG/JPEG file decoded as grey (``channels`` 1) or RGB, at its own size. Raises
    BadInput: not an image, past the pixel limit (read from its header, before decoding),
    unreadable."""
    from PIL import Image  # here, not at import: the API reads these routes and never decodes images

    c = channels
    limit = get_settings().serve_max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            if img.width * img.height > limit:
                raise BadInput(f"{field}: the image is {img.width}×{img.height} pixels, more than the limit of "
                               f"{limit}", field=field)
            img.load()
            img = img.convert("L" if c == 1 else "RGB")
    except BadInput:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):  # Pillow's own, larger limit
        raise BadInput(f"{field}: the image has more pixels than the limit of {limit}", field=field) from None
    except (OSError, ValueError, SyntaxError):
        raise BadInput(f"{field}: not a readable PNG or JPEG image", field=field) from None
    return img


def from_files(model: LoadedModel, files: list[tuple[str, bytes]]) -> tuple[dict, list[str], list[bool]]:
    """(feeds, image names, resized flags) of uploaded image files. Raises BadInput."""
    if len(files) > MAX_ROWS:
        raise BadInput(f"file: at most {MAX_ROWS} images per request, got {len(files)}", field="file")
    decoded = [decode(model, data, f"file[{i}]" if len(files) > 1 else "file") for i, (_, data) in enumerate(files)]
    stack = np.stack([d[0] for d in decoded]).astype(np.float32)
    return {"image": stack}, [name for name, _ in files], [d[1] for d in decoded]


def from_array(model: LoadedModel, values, field: str) -> dict:
    """One image (H, W, C) — (H, W) for a grey model — or a batch (N, H, W, C) of pixel values
    0..255, as nested lists. Raises BadInput naming the shape the model takes."""
    h, w, c = image_shape(model)
    arr = numeric_array(values, field)
    if arr.ndim == 2 and c == 1:
        arr = arr[:, :, None]
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != (h, w, c) or arr.shape[0] == 0:
        raise BadInput(f"{field}: the model takes images of {h}×{w} pixels with {c} channel{'s' if c > 1 else ''}: "
                       f"shape ({h}, {w}, {c}) or (N, {h}, {w}, {c}), pixel values 0..255; "
                       f"got {tuple(np.shape(values))}", field=field)
    if arr.shape[0] > MAX_ROWS:
        raise BadInput(f"{field}: at most {MAX_ROWS} images per request, got {arr.shape[0]}", field=field)
    if arr.min() < 0 or arr.max() > 255:
        raise BadInput(f"{field}: pixel values must lie in 0..255", field=field)
    return {"image": arr}


def json_pixels(body) -> tuple[Any, str]:
    """(pixel values, their field) of a JSON body: a bare array, or ``{"image" | "images" |
    "data" | "instances": array}``. Raises BadInput."""
    if not isinstance(body, dict):
        return body, "body"
    key = next((k for k in ("images", "image", "data", "instances") if k in body), None)
    if key is None:
        raise BadInput("image: send an image file, or pixel values as \"image\" (one) or \"images\" (several)",
                       field="image")
    return body[key], key


MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def request_content() -> tuple[list[tuple[str, bytes]] | None, Any, str | None]:
    """What a request carries: (files, None, None) for multipart image files or one raw PNG/JPEG
    body, else (None, pixel values, their field) of its JSON. Raises BadInput, BadRequest,
    TooLarge."""
    from serving.bodies import json_value, raw_body, uploaded_files

    files = uploaded_files()
    if not files and raw_body().startswith(MAGIC):
        files = [("image", raw_body())]
    if files:
        return files, None, None
    body = json_value(required=False)
    if body is None:
        raise BadInput("the body is empty; send a PNG/JPEG file or pixel values as JSON", field="body")
    return (None, *json_pixels(body))


def from_request(model: LoadedModel) -> tuple[dict, list[str] | None, list[bool] | None]:
    """(feeds, image names, resized flags) of what a request carries (``request_content``).
    Raises BadInput, BadRequest, TooLarge."""
    files, values, field = request_content()
    if files:
        return from_files(model, files)
    return from_array(model, values, field), None, None