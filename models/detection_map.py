"""Mean average precision of a detector, with 95% bootstrap intervals over images (numpy).

Two conventions, each matched to the library that defines it (tests/models/test_detection_map.py
checks both on fixed data):

- ``voc``: Pascal VOC's AP at IoU 0.5, the area under the interpolated precision/recall curve
  (VOC 2010 and later), boxes marked difficult neither count nor penalise, and corners are
  whole pixels, so a box spans ``xmax - xmin + 1`` of them (the devkit's rule): GluonCV's
  ``VOCMApMetric``. Boxes are in pixels for both conventions.
- ``coco``: COCO's AP averaged over IoU 0.50:0.05:0.95, precision read at 101 recall points,
  at most 100 detections per image and class, every box counted: pycocotools' ``COCOeval`` for
  ``bbox`` over all areas.

Matching is per image (a detection matches the unmatched box of its class it overlaps most), so
it is done once; a bootstrap resample only weighs images (an image drawn k times counts k
times), which gives the AP of the resampled image list without matching again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.intervals import RESAMPLES, draws, percentile_interval
from models.proportion import LEVEL

VOC_IOU = (0.5,)
COCO_IOUS = tuple(np.round(np.linspace(0.5, 0.95, 10), 2).tolist())
COCO_RECALLS = np.linspace(0.0, 1.0, 101)
COCO_MAX_DETECTIONS = 100
CONVENTIONS = {"voc": VOC_IOU, "coco": COCO_IOUS}


@dataclass(frozen=True)
class ImageTruth:
    boxes: np.ndarray  # (k, 4) xmin, ymin, xmax, ymax in pixels of the image
    labels: np.ndarray  # (k,) class ids
    difficult: np.ndarray  # (k,) bool


@dataclass(frozen=True)
class ImageDetections:
    boxes: np.ndarray  # (d, 4)
    labels: np.ndarray  # (d,)
    scores: np.ndarray  # (d,)


@dataclass(frozen=True)
class Matches:
    """Every kept detection of every image, matched once per IoU threshold."""

    image: np.ndarray  # (D,) which image a detection came from
    label: np.ndarray  # (D,)
    score: np.ndarray  # (D,)
    outcome: np.ndarray  # (D, T) 1 true positive, 0 false positive, -1 ignored (a difficult box)
    positives: np.ndarray  # (n_images, n_classes) boxes that count, per image and class


def iou(a: np.ndarray, b: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """(len(a), len(b)) intersection over union of corner boxes; ``offset`` 1 counts the far
    corner's pixel in (VOC)."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo + offset, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2] + offset, axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2] + offset, axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=float), where=union > 0)


def _match_class(overlaps: np.ndarray, difficult: np.ndarray, thresholds, voc: bool) -> np.ndarray:
    """(d, T) outcomes of a class's detections (rows sorted by score) against its boxes."""
    out = np.zeros((overlaps.shape[0], len(thresholds)), dtype=np.int8)
    for t, thr in enumerate(thresholds):
        taken = np.zeros(overlaps.shape[1], dtype=bool)
        for d in range(overlaps.shape[0]):
            if voc:  # VOC: the box it overlaps most, taken or not
                g = int(overlaps[d].argmax()) if overlaps.shape[1] else -1
                if g < 0 or overlaps[d, g] < thr:
                    continue
                out[d, t] = -1 if difficult[g] else (0 if taken[g] else 1)
                taken[g] = True
            else:  # COCO: the best box still free
                free = np.where(taken, -1.0, overlaps[d])
                g = int(free.argmax()) if free.size else -1
                if g >= 0 and free[g] >= thr:
                    taken[g], out[d, t] = True, 1
    return out


def match(truths: list[ImageTruth], detections: list[ImageDetections], n_classes: int,
          convention: str) -> Matches:
    """Matches every image's detections to its boxes, class by class."""
    thresholds, voc = CONVENTIONS[convention], convention == "voc"
    parts, positives = [], np.zeros((len(truths), n_classes), dtype=np.int64)
    for i, (truth, det) in enumerate(zip(truths, detections)):
        counted = ~truth.difficult if voc else np.ones(truth.labels.size, dtype=bool)
        positives[i] = np.bincount(truth.labels[counted].astype(int), minlength=n_classes)[:n_classes]
        for c in np.union1d(truth.labels, det.labels).astype(int):
            if c < 0 or c >= n_classes:
                continue
            mine = np.flatnonzero(det.labels == c)
            mine = mine[np.argsort(-det.scores[mine], kind="mergesort")]
            if not voc:
                mine = mine[:COCO_MAX_DETECTIONS]
            if mine.size == 0:
                continue
            boxes = np.flatnonzero(truth.labels == c)
            overlaps = iou(det.boxes[mine], truth.boxes[boxes], offset=1.0 if voc else 0.0)
            outcome = _match_class(overlaps, truth.difficult[boxes] if voc else np.zeros(boxes.size, bool),
                                   thresholds, voc)
            parts.append((np.full(mine.size, i), np.full(mine.size, c), det.scores[mine], outcome))
    if not parts:
        empty = np.zeros(0)
        return Matches(empty.astype(int), empty.astype(int), empty, np.zeros((0, len(thresholds)), np.int8),
                       positives)
    image, label, score, outcome = (np.concatenate(p) for p in zip(*parts))
    return Matches(image, label, score, outcome, positives)


def _precision_envelope(precision: np.ndarray) -> np.ndarray:
    return np.maximum.accumulate(precision[::-1])[::-1]


def _voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = _precision_envelope(np.concatenate(([0.0], precision, [0.0])))
    step = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))


def _coco_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    envelope = _precision_envelope(precision)
    at = np.searchsorted(recall, COCO_RECALLS, side="left")
    read = np.where(at < envelope.size, envelope[np.minimum(at, envelope.size - 1)], 0.0)
    return float(read.mean())


def _class_ap(outcome: np.ndarray, weight: np.ndarray, positives: float, convention: str) -> float:
    """AP of one class at one threshold; detections sorted by score, each weighed by its image."""
    kept = outcome >= 0
    w, hit = weight[kept], outcome[kept] == 1
    tp, fp = np.cumsum(w * hit), np.cumsum(w * ~hit)
    recall = tp / positives
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp, dtype=float), where=(tp + fp) > 0)
    return _voc_ap(recall, precision) if convention == "voc" else _coco_ap(recall, precision)


@dataclass(frozen=True)
class _Sorted:
    """Matches ordered once by class, then by score (highest first)."""

    label: np.ndarray
    image: np.ndarray
    outcome: np.ndarray
    starts: np.ndarray  # where each class's detections start in the order

    @classmethod
    def of(cls, m: Matches, n_classes: int) -> "_Sorted":
        order = np.lexsort((-m.score, m.label))
        label = m.label[order]
        return cls(label, m.image[order], m.outcome[order], np.searchsorted(label, np.arange(n_classes + 1)))


def _per_class(s: _Sorted, positives: np.ndarray, weights: np.ndarray, convention: str) -> np.ndarray:
    """(n_classes, T) AP, NaN for a class with no counted box among the weighed images."""
    n_classes, n_thr = positives.shape[1], s.outcome.shape[1]
    counted = weights @ positives
    ap = np.full((n_classes, n_thr), np.nan)
    for c in np.flatnonzero(counted > 0):
        lo, hi = s.starts[c], s.starts[c + 1]
        w = weights[s.image[lo:hi]]
        for t in range(n_thr):
            ap[c, t] = _class_ap(s.outcome[lo:hi, t], w, counted[c], convention) if hi > lo else 0.0
    return ap


def _mean(per_class: np.ndarray) -> float | None:
    """Over the classes with a counted box (and the thresholds); None when no class has one."""
    valid = per_class[~np.isnan(per_class).all(axis=1)]
    return float(valid.mean()) if valid.size else None


def average_precision(m: Matches, convention: str, weights: np.ndarray | None = None) -> dict:
    """{"map": mean over classes (and thresholds), None when no image has a box that counts;
    "per_class": [AP or None]} on the images, each weighed by ``weights`` (default: each once)."""
    n_images, n_classes = m.positives.shape
    w = np.ones(n_images) if weights is None else weights
    per_class = _per_class(_Sorted.of(m, n_classes), m.positives, w, convention)
    return {"map": _mean(per_class), "per_class": [None if np.isnan(r).all() else float(r.mean()) for r in per_class]}


def with_interval(m: Matches, convention: str, seed: int, resamples: int = RESAMPLES) -> dict:
    """``average_precision`` with a percentile bootstrap interval over images."""
    n_images, n_classes = m.positives.shape
    point = average_precision(m, convention)
    order = _Sorted.of(m, n_classes)
    values = []
    for rows in draws(n_images, seed, resamples) if n_images else []:
        value = _mean(_per_class(order, m.positives, np.bincount(rows, minlength=n_images).astype(float),
                                 convention))
        if value is not None:
            values.append(value)
    bounds = percentile_interval(values)
    return {**point, "low": bounds[0] if bounds else None, "high": bounds[1] if bounds else None,
            "method": "percentile bootstrap over images", "level": LEVEL, "resamples": resamples,
            "resamples_defined": len(values), "seed": seed}
