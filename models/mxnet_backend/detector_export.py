"""Export a trained GluonCV SSD detector (a checkpoint blob) to ONNX for serving, and verify the
served detections against MXNet's own.

**Why the NMS is not in the graph.** mx2onnx 1.9.1 converts ``contrib.box_nms`` to ONNX
``NonMaxSuppression``, which suppresses boxes of every class together (GluonCV's SSD asks
``force_suppress=False``: only boxes of one class suppress each other) and reads ``topk`` per
class (MXNet's is over all candidates before suppression); onnxruntime 1.19 also refuses the
converted graph ("two nodes with same node name"). So the graph stops before the NMS
(``SSD.set_nms(nms_thresh=0)``: GluonCV then skips it) and the serving role runs MXNet's rules
in numpy (``models.box_nms``), with the net's own settings recorded in the contract.

The exported graph takes ``image``, (N, H, W, 3) float32 pixel values 0..255 at the detector's
input size (the checkpoint's ``image_shape``), does what GluonCV's ``SSDDefaultValTransform``
does after its resize (NCHW, ``/255``, ImageNet mean and std), runs the SSD in inference mode
and answers ``candidates``, (N, classes × anchors, 6): ``[class id, score, xmin, ymin, xmax,
ymax]`` per class and anchor, corners in input pixels, ``box_nms``'s input.

Verification runs the engine's own ``detect`` (GluonCV's resize, the net with its NMS) on the
task's images, and the served path on the same resized pixels (the graph in onnxruntime,
``box_nms``, boxes mapped back to the stored image's pixels): every detection must be matched
by one of the same class with IoU ≥ 0.99 and a score within ``SCORE_TOLERANCE``, except up to
two per side at the very bottom of its list (within the tolerance of its lowest score), where a
float-level difference may swap which of two near-equal candidates makes the cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import mxnet as mx
import numpy as np
from gluoncv.data.transforms.image import imresize
from mxnet import gluon

from models.box_nms import Detections, NmsSettings, box_nms, in_image_pixels
from models.mxnet_backend.checkpoint import load_params, unpack_checkpoint
from models.mxnet_backend.detection_data import DetectionDataset
from models.mxnet_backend.detector import IMAGE_MEAN, IMAGE_STD, detect
from models.mxnet_backend.detector_networks import build_detector
from models.mxnet_backend.onnx_export import INPUT, ExportFailed, mx2onnx, renamed

OUTPUT = "candidates"
MIN_IOU = 0.99
SCORE_TOLERANCE = 1e-4  # both sides compute in float32
SAME_CORNERS = 0.01  # pixels
MAX_SWAPPED = 2  # unmatched detections at the bottom of an image's list forgiven, per side
_INTERP_AUTO = 9  # GluonCV's SSDDefaultValTransform: bicubic up, area down, bilinear otherwise


class RawDetector(gluon.HybridBlock):
    """(N, H, W, 3) pixel values → (N, classes × anchors, 6) candidates, before NMS."""

    def __init__(self, net: gluon.HybridBlock):
        super().__init__()
        self.net = net
        with self.name_scope():
            self.mean = self.params.get_constant("mean", mx.nd.array(IMAGE_MEAN).reshape((1, 3, 1, 1)))
            self.std = self.params.get_constant("std", mx.nd.array(IMAGE_STD).reshape((1, 3, 1, 1)))

    def hybrid_forward(self, F, x, mean, std):  # noqa: N803 - Gluon's name for the op namespace
        x = F.transpose(x, axes=(0, 3, 1, 2)) / 255.0
        ids, scores, boxes = self.net(F.broadcast_div(F.broadcast_sub(x, mean), std))
        return F.concat(ids, scores, boxes, dim=-1)


@dataclass(frozen=True)
class ExportedDetector:
    onnx: bytes
    contract: dict


def load_network(blob: bytes):  # noqa: ANN201 - (CheckpointMeta, a GluonCV SSD)
    """The checkpoint's meta and its detector, parameters loaded on the CPU."""
    ckpt = unpack_checkpoint(blob)
    net = build_detector(ckpt.meta.network, ckpt.meta.class_names, ckpt.meta.image_shape[0])
    load_params(net, ckpt.params, mx.cpu())
    return ckpt.meta, net


def nms_settings(net) -> NmsSettings:  # noqa: ANN001 - a GluonCV SSD
    """The net's own NMS settings (``SSD.set_nms``)."""
    # valid_thresh is a literal in GluonCV's ssd.py, not a setting of the net: NmsSettings' default
    return NmsSettings(overlap_thresh=float(net.nms_thresh), topk=int(net.nms_topk), post_nms=int(net.post_nms))


def export_detector(blob: bytes) -> ExportedDetector:
    """The ONNX file of a detector's checkpoint blob. Raises ExportFailed, CheckpointError."""
    meta, net = load_network(blob)
    h, w, _ = meta.image_shape
    settings = nms_settings(net)
    net.set_nms(nms_thresh=0, nms_topk=-1, post_nms=-1)
    wrapper = RawDetector(net)
    for constant in (wrapper.mean, wrapper.std):
        constant.initialize(ctx=mx.cpu())
    onnx = renamed(mx2onnx(wrapper, meta.network, (h, w, 3)), OUTPUT)
    return ExportedDetector(onnx, _contract(meta, settings))


def _contract(meta, settings: NmsSettings) -> dict:
    h, w, _ = meta.image_shape
    return {
        "backend": "mxnet", "model": meta.network, "task": "detection", "input": "image",
        "classes": len(meta.class_names), "class_names": list(meta.class_names), "image_shape": [h, w, 3],
        "preprocessing": {
            "decode": "PNG/JPEG → RGB",
            "resize": f"to {h}×{w} as GluonCV's SSD validation transform (MXNet imresize, interp 9: bicubic when "
                      "both sides grow, area when both shrink, bilinear otherwise), no crop; in the serving process",
            "normalisation": "pixel / 255, minus the ImageNet mean, over its std, NCHW: inside the ONNX graph"},
        "postprocessing": {
            "nms": settings.public(),
            "where": "the serving process (numpy, MXNet's box_nms rules): mx2onnx's NonMaxSuppression "
                     "suppresses across classes",
            "boxes": "corners [xmin, ymin, xmax, ymax] in the uploaded image's pixels"},
        "inputs": [{"name": INPUT, "datatype": "FP32", "shape": [-1, h, w, 3]}],
        "outputs": [{"name": OUTPUT, "datatype": "FP32", "shape": [-1, -1, 6]}],
    }


def resized_pixels(ds: DetectionDataset, height: int, width: int) -> np.ndarray:
    """(N, height, width, 3) uint8: the dataset's images as the engine's ``detect`` resizes them."""
    out = []
    for image in ds.images:
        rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
        out.append(imresize(mx.nd.array(rgb, dtype=np.uint8), width, height, interp=_INTERP_AUTO).asnumpy())
    return np.stack(out)


def served_detections(onnx: bytes, pixels: np.ndarray, settings: NmsSettings,
                      image_hw: tuple[int, int]) -> list[Detections]:
    """What the serving role answers for (N, H, W, 3) resized ``pixels`` of images of ``image_hw``."""
    import onnxruntime as ort

    # onnxruntime 1.19 (the MXNet environment's) fuses the SSD's per-class slices into two nodes of
    # one name and refuses its own result; 1.32 (the serving role's) does not. The fusion changes no value.
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"],
                                   disabled_optimizers=["GatherSliceToSplitFusion"])
    candidates = session.run([OUTPUT], {INPUT: pixels.astype(np.float32)})[0]
    input_hw = pixels.shape[1:3]
    return [in_image_pixels(box_nms(c, settings), input_hw, image_hw) for c in candidates]


def verify_detector(blob: bytes, exported: ExportedDetector, ds: DetectionDataset, role: str) -> dict:
    """The verification record; raises ExportFailed when the served detections differ from
    MXNet's on any of the task's ``role`` images (see the module doc)."""
    if ds.n_images == 0:
        raise ExportFailed("no images to verify the export on")
    meta, net = load_network(blob)
    h, w, _ = meta.image_shape
    want = [Detections(np.nan_to_num(d.boxes), d.labels, d.scores) for d in detect(net, ds, h, w, mx.cpu(), 32)]
    got = served_detections(exported.onnx, resized_pixels(ds, h, w), nms_settings(net), ds.image_shape[:2])
    comparisons = [compare(a, b) for a, b in zip(want, got)]
    record = {"n_subjects": ds.n_images, "subjects": role, "n_boxes": sum(c["n_boxes"] for c in comparisons),
              "matched": sum(c["matched"] for c in comparisons),
              "unmatched_at_cutoff": sum(c["unmatched_at_cutoff"] for c in comparisons),
              "min_iou": min((c["min_iou"] for c in comparisons), default=1.0),
              "max_abs_diff": max((c["max_score_diff"] for c in comparisons), default=0.0),
              "tolerance": SCORE_TOLERANCE, "min_iou_required": MIN_IOU,
              "compared": "detections (class, box IoU, score): the served path (onnxruntime, numpy NMS) vs "
                          "MXNet (GluonCV SSD with its NMS, the engine's detect)"}
    bad = [i for i, c in enumerate(comparisons) if c["unmatched"]]
    if bad:
        raise ExportFailed(f"the served detections differ from MXNet's on {len(bad)} of the task's {ds.n_images} "
                           f"{role} images (first: image {bad[0]}, {comparisons[bad[0]]['unmatched']} detections "
                           f"without a match of the same class, IoU ≥ {MIN_IOU}, score within {SCORE_TOLERANCE})")
    return record


def compare(want: Detections, got: Detections) -> dict:
    """Each detection of ``want`` matched greedily (best score first) to an unmatched one of
    ``got`` of its class with the highest IoU; unmatched ones on either side are counted, except
    those within the score tolerance of their own list's lowest score."""
    used = np.zeros(len(got.scores), dtype=bool)
    ious, diffs, missing = [], [], []
    for i in np.argsort(-want.scores, kind="stable"):
        same = (got.classes == want.classes[i]) & ~used
        iou = np.where(same, _iou(want.boxes[i], got.boxes), -1.0)
        j = int(np.argmax(iou)) if len(iou) else -1
        if j >= 0 and iou[j] >= MIN_IOU and abs(float(got.scores[j] - want.scores[i])) <= SCORE_TOLERANCE:
            used[j] = True
            ious.append(float(iou[j]))
            diffs.append(abs(float(got.scores[j] - want.scores[i])))
        else:
            missing.append(float(want.scores[i]))
    extra = [float(s) for s in got.scores[~used]]
    at_cutoff = _at_cutoff(missing, want.scores) + _at_cutoff(extra, got.scores)
    return {"n_boxes": len(want.scores), "matched": len(ious), "min_iou": min(ious, default=1.0),
            "max_score_diff": max(diffs, default=0.0), "unmatched_at_cutoff": at_cutoff,
            "unmatched": len(missing) + len(extra) - at_cutoff}


def _at_cutoff(scores: list[float], all_scores: np.ndarray) -> int:
    if not scores:
        return 0
    lowest = float(np.min(all_scores))
    return min(sum(s <= lowest + SCORE_TOLERANCE for s in scores), MAX_SWAPPED)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of ``box`` with each of ``boxes``; boxes whose corners agree within ``SAME_CORNERS``
    pixels count as 1 (a weak net's boxes of no area, clipped to an edge, have no IoU to speak of)."""
    iw = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    ih = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.where(np.all(np.abs(boxes - box) <= SAME_CORNERS, axis=1), 1.0, iou)
