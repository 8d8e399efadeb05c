"""A deployed detector (an MXNet SSD task) in the serving role: the images a request carries, at
any size, resized to the detector's input as its training resized them
(``models.image_resize``), run through the ONNX graph (which stops before the NMS: see
``models.mxnet_backend.detector_export``), then MXNet's NMS in numpy (``models.box_nms``) with the
net's own settings from the model's contract, and the boxes mapped back to each uploaded
image's pixels. The replies of each interface are built here; their shapes are documented in
``contracts.foreign_replies`` (``DetectionBox``, ``KServeInferReply``, ``FractalPrediction``)."""

from __future__ import annotations

import math

import numpy as np

from models.box_nms import Detections, NmsSettings, box_nms, in_image_pixels
from models.image_resize import resize_like_mxnet
from serving import images, predict
from serving.arrays import MAX_ROWS, numeric_array
from serving.errors import BadInput
from serving.inputs import encoded_files
from serving.loaded import LoadedModel
from serving.tensors import BinaryReader, binary_array

# KServe outputs of a detector: every detection of every image in the request, one row each
OUTPUTS = [{"name": "boxes", "datatype": "FP32", "shape": [-1, 4]},
           {"name": "classes", "datatype": "INT64", "shape": [-1]},
           {"name": "scores", "datatype": "FP32", "shape": [-1]},
           {"name": "batch_index", "datatype": "INT64", "shape": [-1]}]
OUTPUT_NAMES = [o["name"] for o in OUTPUTS]


def input_size(model: LoadedModel) -> tuple[int, int]:
    h, w, _ = images.image_shape(model)
    return h, w


def settings(model: LoadedModel) -> NmsSettings:
    nms = model.contract["postprocessing"]["nms"]
    return NmsSettings(float(nms["overlap_thresh"]), int(nms["topk"]), float(nms["valid_thresh"]),
                       int(nms["post_nms"]))


def detect(model: LoadedModel, pictures: list[np.ndarray], interface: str) -> list[Detections]:
    """Each (H, W, 3) uint8 picture's detections, corners in its own pixels. Raises what
    ``predict.run`` raises."""
    h, w = input_size(model)
    pixels = np.stack([resize_like_mxnet(p, h, w) for p in pictures]).astype(np.float32)
    candidates = predict.run(model, {"image": pixels}, interface)[0]
    nms = settings(model)
    return [in_image_pixels(box_nms(c, nms), (h, w), p.shape[:2]) for c, p in zip(candidates, pictures)]


def from_files(files: list[tuple[str, bytes]]) -> list[np.ndarray]:
    """(H, W, 3) uint8 pixels of PNG/JPEG files, each at its own size. Raises BadInput."""
    if len(files) > MAX_ROWS:
        raise BadInput(f"file: at most {MAX_ROWS} images per request, got {len(files)}", field="file")
    names = [f"file[{i}]" if len(files) > 1 else "file" for i in range(len(files))]
    return [np.asarray(images.opened(data, 3, name), dtype=np.uint8) for name, (_, data) in zip(names, files)]


def from_array(values, field: str) -> list[np.ndarray]:
    """Pixel values 0..255: one (H, W, 3) or (H, W) grey image, or a batch (N, H, W, 3), of any
    size. Raises BadInput."""
    arr = numeric_array(values, field)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[3] not in (1, 3) or 0 in arr.shape:
        raise BadInput(f"{field}: a detector takes images as pixel values 0..255: shape (H, W, 3), (H, W) or "
                       f"(N, H, W, 3); got {tuple(np.shape(values))}", field=field)
    if arr.shape[0] > MAX_ROWS:
        raise BadInput(f"{field}: at most {MAX_ROWS} images per request, got {arr.shape[0]}", field=field)
    if arr.min() < 0 or arr.max() > 255:
        raise BadInput(f"{field}: pixel values must lie in 0..255", field=field)
    rgb = np.repeat(arr, 3, axis=3) if arr.shape[3] == 1 else arr
    return list(np.rint(rgb).astype(np.uint8))


def from_request() -> list[np.ndarray]:
    """The pictures a request carries (``images.request_content``): multipart image files, one
    raw PNG/JPEG body, or JSON pixel values. Raises BadInput, BadRequest, TooLarge."""
    files, values, field = images.request_content()
    return from_files(files) if files else from_array(values, field)


def kserve_pictures(inputs, binary: BinaryReader) -> list[np.ndarray]:
    """KServe's one ``image`` input: BYTES PNG/JPEG files (shape [N] or [N, 1], base64 in JSON or
    with the binary extension) or FP32/UINT8 pixel values (N, H, W, 3) of any size. Raises BadInput."""
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise BadInput("inputs: a detector takes one input, image", field="inputs")
    item, field = inputs[0], "inputs[0]"
    if item.get("name") != "image":
        raise BadInput(f"{field}.name: the model has no input {item.get('name')!r}; its input: image",
                       field=f"{field}.name")
    shape, datatype = item.get("shape"), item.get("datatype")
    params = item.get("parameters") if isinstance(item.get("parameters"), dict) else {}
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise BadInput(f"{field}.shape: expected a list of non-negative integers", field=f"{field}.shape")
    if datatype == "BYTES":
        pictures = from_files([(str(i), f) for i, f in enumerate(encoded_files(item, params, shape, field, binary))])
    elif datatype in ("FP32", "UINT8"):
        pictures = from_array(_pixels(item, params, shape, datatype, field, binary), f"{field}.data")
    else:
        raise BadInput(f"{field}.datatype: input 'image' takes BYTES (PNG/JPEG files) or FP32/UINT8 pixel values "
                       f"(N, H, W, 3), got {datatype!r}", field=f"{field}.datatype")
    binary.finish()
    return pictures


def _pixels(item: dict, params: dict, shape: list[int], datatype: str, field: str, binary: BinaryReader):
    if len(shape) != 4:
        raise BadInput(f"{field}.shape: pixel values take shape (N, H, W, 3), got {shape}", field=f"{field}.shape")
    if "binary_data_size" in params:
        dtype = np.float32 if datatype == "FP32" else np.uint8
        return binary_array(binary.take(params["binary_data_size"], field), shape, dtype, field)
    arr = numeric_array(item.get("data"), f"{field}.data")
    if arr.size != math.prod(shape):
        raise BadInput(f"{field}.data: holds {arr.size} values, shape {shape} needs {math.prod(shape)}",
                       field=f"{field}.data")
    return arr.reshape(shape)


def kserve_outputs(found: list[Detections]) -> dict[str, np.ndarray]:
    """Every image's detections as rows: ``boxes`` (D, 4), ``classes`` (D,), ``scores`` (D,) and
    ``batch_index`` (D,), the image each row belongs to."""
    return {"boxes": np.concatenate([d.boxes for d in found]).reshape(-1, 4).astype(np.float32),
            "classes": np.concatenate([d.classes for d in found]).astype(np.int64),
            "scores": np.concatenate([d.scores for d in found]).astype(np.float32),
            "batch_index": np.concatenate([np.full(len(d.scores), i, np.int64) for i, d in enumerate(found)])}


def as_rows(model: LoadedModel, found: Detections) -> list[dict]:
    """One image's detections, best first: ``{"class", "class_index", "score", "box"}``."""
    names = list(model.contract.get("class_names") or [])
    return [{"class": names[k] if 0 <= k < len(names) else str(k), "class_index": int(k), "score": float(s),
             "box": [float(v) for v in box]}
            for box, k, s in zip(found.boxes, found.classes.tolist(), found.scores)]
