"""VOC mAP (models.detection_map) equals GluonCV's VOCMApMetric on fixed data, difficult boxes
included."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mxnet")
from gluoncv.utils.metrics.voc_detection import VOCMApMetric  # noqa: E402

from models.detection_map import average_precision, match  # noqa: E402
from tests.models.detection_cases import N_CLASSES, cases  # noqa: E402


def _gluoncv_map(truths, dets) -> tuple[float, list[float]]:
    metric = VOCMApMetric(iou_thresh=0.5, class_names=[str(c) for c in range(N_CLASSES)])
    for t, d in zip(truths, dets):
        metric.update(d.boxes[None], d.labels[None, :, None], d.scores[None, :, None],
                      t.boxes[None], t.labels[None, :, None], t.difficult[None, :, None].astype(float))
    names, values = metric.get()
    return values[-1], values[:-1]


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_voc_map_equals_gluoncvs(seed):
    truths, dets = cases(seed, with_difficult=True)
    ours = average_precision(match(truths, dets, N_CLASSES, "voc"), "voc")
    theirs, per_class = _gluoncv_map(truths, dets)
    assert ours["map"] == pytest.approx(theirs, abs=1e-9)
    assert ours["per_class"] == pytest.approx(per_class, abs=1e-9)
    assert not np.isnan(ours["map"])
