"""A detector's export for serving: the numpy NMS the serving role runs equals MXNet's
``contrib.box_nms`` as GluonCV's SSD calls it; the served resize is MXNet's within one grey
level; the exported graph (stopped before the NMS) plus that NMS answers MXNet's own detections,
and an export that differs is refused."""

import numpy as np
import pytest

pytest.importorskip("mxnet")

import mxnet as mx  # noqa: E402
from gluoncv.data.transforms.image import imresize  # noqa: E402

from models.box_nms import NmsSettings, box_nms  # noqa: E402
from models.image_resize import resize_like_mxnet  # noqa: E402
from models.mxnet_backend import detector_export  # noqa: E402
from contracts.mxserver_request import MxTrainParams  # noqa: E402
from models.mxnet_backend.detection_demo import make_demo_detection  # noqa: E402
from models.mxnet_backend.detector_export import ExportFailed, export_detector, verify_detector  # noqa: E402
from models.mxnet_backend.detector import DetectionJobSpec, run_detection_job  # noqa: E402
from tests.models.engine_helpers import Recorder  # noqa: E402


def candidates(seed: int, m: int = 600) -> np.ndarray:
    """(m, 6) rows of three classes: scores from a small set (ties), ids -1 below 0.05 (as
    GluonCV's class decoder marks them), boxes overlapping, some inverted."""
    rng = np.random.default_rng(seed)
    scores = rng.choice(np.round(rng.uniform(0, 1, 150), 2), m).astype(np.float32)
    ids = np.where(scores < 0.05, -1, rng.integers(0, 3, m)).astype(np.float32)
    corner = rng.uniform(0, 100, (m, 2))
    size = rng.uniform(-2, 30, (m, 2))
    return np.concatenate([ids[:, None], scores[:, None], corner, corner + size], axis=1).astype(np.float32)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("settings", [NmsSettings(), NmsSettings(0.3, 50, 0.2, 20)])
def test_numpy_nms_equals_mxnet_box_nms(seed, settings):
    data = candidates(seed)
    out = mx.nd.contrib.box_nms(mx.nd.array(data[None]), overlap_thresh=settings.overlap_thresh, topk=settings.topk,
                                valid_thresh=settings.valid_thresh, id_index=0, score_index=1, coord_start=2,
                                force_suppress=False)[0].asnumpy()[:settings.post_nms]
    want = out[out[:, 0] >= 0]
    np.testing.assert_array_equal(box_nms(data, settings), want)


@pytest.mark.parametrize("size, to", [((64, 64), (128, 128)), ((30, 41), (300, 300)), ((200, 150), (128, 128)),
                                      ((256, 256), (128, 128)), ((100, 90), (128, 64)), ((64, 48), (64, 48))])
def test_the_served_resize_is_mxnets_within_one_grey_level(size, to):
    image = np.random.default_rng(1).integers(0, 256, (*size, 3)).astype(np.uint8)
    want = imresize(mx.nd.array(image, dtype=np.uint8), to[1], to[0], interp=9).asnumpy()
    got = resize_like_mxnet(image, *to)
    assert got.shape == want.shape and np.abs(got.astype(int) - want.astype(int)).max() <= 1


@pytest.fixture(scope="module")
def checkpoint():
    """An SSD trained for 2 epochs on 200 demo images (~20 s), and 50 images it never saw. An
    untrained SSD is no test: its activations overflow float32, and its near-equal scores make
    any NMS a coin toss."""
    demo = make_demo_detection(300, seed=0)
    spec = DetectionJobSpec("dl_ts", "ssd", MxTrainParams(num_epoch=2, batch_size=16, base_lr=0.02, seed=0),
                            demo.subset(range(200)), None, None)
    return run_detection_job(spec, Recorder()).weights, demo.subset(range(250, 300))


def test_the_served_detections_are_mxnets(checkpoint):
    blob, unseen = checkpoint
    exported = export_detector(blob)
    record = verify_detector(blob, exported, unseen, "test")
    assert record["n_subjects"] == 50 and record["n_boxes"] > 0 and record["min_iou"] >= 0.99
    assert record["matched"] + record["unmatched_at_cutoff"] >= record["n_boxes"]
    assert record["max_abs_diff"] <= record["tolerance"]
    assert exported.contract["outputs"] == [{"name": "candidates", "datatype": "FP32", "shape": [-1, -1, 6]}]
    assert exported.contract["postprocessing"]["nms"]["overlap_thresh"] == 0.45


def test_an_export_that_differs_from_mxnet_is_refused(checkpoint, monkeypatch):
    blob, unseen = checkpoint
    monkeypatch.setattr(detector_export, "IMAGE_STD", (0.3, 0.3, 0.3))  # a graph normalising otherwise
    with pytest.raises(ExportFailed, match="differ from MXNet"):
        verify_detector(blob, export_detector(blob), unseen, "test")
