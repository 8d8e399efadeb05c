"""COCO-style mAP equals pycocotools' on fixed data; a bootstrap resample's weights give the AP
of the resampled image list; the interval brackets the point."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from models.detection_map import ImageDetections, ImageTruth, average_precision, match, with_interval
from tests.models.detection_cases import N_CLASSES, cases


def _coco_map(truths, dets) -> float:
    images = [{"id": i, "width": 100, "height": 100} for i in range(len(truths))]
    anns, results = [], []
    for i, (t, d) in enumerate(zip(truths, dets)):
        for b, c in zip(t.boxes, t.labels):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c), "iscrowd": 0,
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1])})
        for b, c, s in zip(d.boxes, d.labels, d.scores):
            results.append({"image_id": i, "category_id": int(c), "score": float(s),
                            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in range(N_CLASSES)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_coco_map_equals_pycocotools(seed):
    truths, dets = cases(seed)
    ours = average_precision(match(truths, dets, N_CLASSES, "coco"), "coco")["map"]
    assert ours == pytest.approx(_coco_map(truths, dets), abs=1e-9)


@pytest.mark.parametrize("convention", ["voc", "coco"])
def test_weights_give_the_ap_of_the_resampled_images(convention):
    truths, dets = cases(5, n_images=25, with_difficult=convention == "voc")
    rows = np.random.default_rng(3).integers(0, len(truths), len(truths))
    weighted = average_precision(match(truths, dets, N_CLASSES, convention), convention,
                                 np.bincount(rows, minlength=len(truths)).astype(float))
    listed = average_precision(match([truths[r] for r in rows], [dets[r] for r in rows], N_CLASSES, convention),
                               convention)
    assert weighted["map"] == pytest.approx(listed["map"], abs=1e-9)
    assert weighted["per_class"] == pytest.approx(listed["per_class"], abs=1e-9)


def test_the_interval_brackets_the_point_and_is_seeded():
    truths, dets = cases(11)
    m = match(truths, dets, N_CLASSES, "voc")
    a, b = with_interval(m, "voc", seed=0, resamples=300), with_interval(m, "voc", seed=0, resamples=300)
    assert a == b
    assert a["low"] <= a["map"] <= a["high"] and a["high"] - a["low"] > 0.01
    assert a["resamples_defined"] == 300


def test_perfect_detections_score_one_and_a_missed_class_zero():
    truth = ImageTruth(np.array([[10, 10, 40, 40], [50, 50, 90, 90.0]]), np.array([0, 1]), np.zeros(2, bool))
    perfect = ImageDetections(truth.boxes, truth.labels, np.array([0.9, 0.8]))
    only_first = ImageDetections(truth.boxes[:1], truth.labels[:1], np.array([0.9]))
    for convention in ("voc", "coco"):
        assert average_precision(match([truth], [perfect], 2, convention), convention)["map"] == pytest.approx(1.0)
        half = average_precision(match([truth], [only_first], 2, convention), convention)
        assert half["per_class"] == pytest.approx([1.0, 0.0]) and half["map"] == pytest.approx(0.5)


def test_a_difficult_box_neither_counts_nor_penalises_in_voc():
    truth = ImageTruth(np.array([[10, 10, 40, 40], [50, 50, 90, 90.0]]), np.array([0, 0]), np.array([False, True]))
    both = ImageDetections(truth.boxes, truth.labels, np.array([0.9, 0.8]))
    assert average_precision(match([truth], [both], 1, "voc"), "voc")["map"] == pytest.approx(1.0)


def test_images_without_a_counted_box_have_no_map_rather_than_nan():
    empty = ImageTruth(np.zeros((0, 4)), np.zeros(0, int), np.zeros(0, bool))
    only_difficult = ImageTruth(np.array([[10, 10, 40, 40.0]]), np.array([0]), np.array([True]))
    found = ImageDetections(np.array([[10, 10, 40, 40.0]]), np.array([0]), np.array([0.9]))
    for convention, truth in (("coco", empty), ("voc", only_difficult)):
        m = match([truth, truth], [found, found], 1, convention)
        assert average_precision(m, convention)["map"] is None
        scored = with_interval(m, convention, seed=0, resamples=50)
        assert (scored["map"], scored["low"], scored["high"], scored["resamples_defined"]) == (None, None, None, 0)
