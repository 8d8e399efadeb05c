"""Real, short SSD training on the demo detection shapes on the CPU: epochs, checkpoints, the
best epoch on validation mAP, test and test_best with intervals, pause and resume, stop,
evaluation of a checkpoint, weights that do not fit."""

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("mxnet")

from contracts.mxserver_request import MxTrainParams  # noqa: E402
from models.mxnet_backend.checkpoint import CheckpointError, unpack_checkpoint  # noqa: E402
from models.mxnet_backend.detection_demo import make_demo_detection  # noqa: E402
from models.mxnet_backend.detector import DetectionJobSpec, run_detection_job  # noqa: E402
from models.mxnet_backend.detector_networks import UnknownDetector, find_detector  # noqa: E402
from tests.models.engine_helpers import Recorder  # noqa: E402

PARAMS = MxTrainParams(num_epoch=2, batch_size=8, base_lr=0.02, seed=3)
NET = "ssd_300_mobilenet0.25_custom"


class Pausing(Recorder):
    """Asks to pause once ``after`` epochs are done."""

    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def should_pause(self):
        return len(self.epochs) >= self.after


@pytest.fixture(scope="module")
def data():
    ds = make_demo_detection(48, seed=5)
    return ds.subset(range(0, 32)), ds.subset(range(32, 40)), ds.subset(range(40, 48))


@pytest.fixture(scope="module")
def trained(data):
    train, val, test = data
    spec = DetectionJobSpec("dl_ts", "ssd", PARAMS, train, val, test, data_shape=(128, 128))
    hooks = Recorder()
    return spec, hooks, run_detection_job(spec, hooks)


def test_epochs_checkpoints_and_the_best_epoch_on_validation_map(trained):
    _, hooks, outcome = trained
    assert not outcome.stopped and outcome.epochs_done == 2
    assert [m.epoch for m in hooks.epochs] == [1, 2]
    assert all(m.train_loss > 0 and m.val_map is not None and m.val_loss is None for m in hooks.epochs)
    assert [e for k, e in hooks.kinds() if k == "last"] == [1, 2]
    best = [e for k, e in hooks.kinds() if k == "best"]
    maps = [m.val_map for m in hooks.epochs]
    assert best[0] == 1 and best[-1] == 1 + int(np.argmax(maps))
    meta = unpack_checkpoint(outcome.weights).meta
    assert (meta.network, meta.epoch, meta.image_shape, meta.best_val_map) == (NET, 2, (128, 128, 3), max(maps))
    assert outcome.contract["model"] == NET and outcome.contract["class_names"] == ["circle", "square", "triangle"]


def test_test_reports_voc_and_coco_map_with_intervals_and_the_best_epochs(trained, data):
    _, hooks, outcome = trained
    result = outcome.result
    assert result["target"] == "detection" and result["data_shape"] == [3, 128, 128]
    for key in ("test", "test_best"):
        report = result[key]
        assert report["n"] == 8 and report["n_objects"] == data[2].n_objects
        for convention in ("map_voc", "map_coco"):
            m = report[convention]
            assert 0 <= m["low"] <= m["map"] <= m["high"] <= 1 and len(m["per_class"]) == 3
            assert m["method"] == "percentile bootstrap over images"
    assert result["test_best"]["evaluated"] == f"best validation VOC mAP (epoch {result['best_epoch']})"


def test_a_paused_run_resumes_to_the_same_weights(trained, data):
    spec, _, straight = trained
    first = run_detection_job(spec, Pausing(after=1))
    assert first.stopped and first.epochs_done == 1
    second = Recorder()
    resumed = run_detection_job(replace(spec, resume_checkpoint=first.weights), second)
    assert [m.epoch for m in second.epochs] == [2] and resumed.epochs_done == 2
    assert unpack_checkpoint(resumed.weights).params == unpack_checkpoint(straight.weights).params


def test_a_stop_mid_epoch_ends_the_job_without_a_result(data):
    train, val, test = data
    hooks = Recorder(stop_after=2)
    outcome = run_detection_job(DetectionJobSpec("dl_ts", NET, PARAMS, train, val, test, data_shape=(128, 128)),
                                hooks)
    assert outcome.stopped and outcome.epochs_done == 0 and outcome.weights is None
    assert "test" not in outcome.result


def test_evaluating_a_checkpoint_scores_what_training_scored(trained, data):
    spec, _, outcome = trained
    ev = run_detection_job(DetectionJobSpec("dl_ev", NET, PARAMS, None, test=data[2], init_weights=outcome.weights),
                           Recorder())
    assert ev.result["data_shape"] == [3, 128, 128] and ev.result["checkpoint_epoch"] == 2
    assert ev.result["test"]["map_voc"]["map"] == pytest.approx(outcome.result["test"]["map_voc"]["map"])


def test_weights_of_another_network_or_class_count_are_refused(trained, data):
    _, _, outcome = trained
    train, val, test = data
    other = DetectionJobSpec("dl_ft", "ssd_512_mobilenet1.0_custom", PARAMS, train, val, test,
                             init_weights=outcome.weights)
    with pytest.raises(CheckpointError, match="weights are for ssd_300_mobilenet0.25_custom"):
        run_detection_job(other, Recorder())
    fewer = train.subset(range(4))
    fewer = replace(fewer, class_names=("circle", "square"), objects=fewer.objects[fewer.objects[:, 1] < 2])
    with pytest.raises(CheckpointError, match="classes"):
        run_detection_job(replace(other, network=NET, train=fewer, val=None, test=None), Recorder())


def test_unknown_detectors_and_classifiers_are_not_detectors():
    assert find_detector("SSD").name == NET
    for name in ("small-cnn", "yolo3_darknet53_custom"):
        with pytest.raises(UnknownDetector, match="known: ssd_300_mobilenet0.25_custom"):
            find_detector(name)


def test_a_batch_larger_than_the_training_set_still_trains_every_image(data):
    train, _, _ = data
    hooks = Recorder()
    big = MxTrainParams(num_epoch=1, batch_size=64, base_lr=0.02, seed=3)
    outcome = run_detection_job(DetectionJobSpec("dl_ts", NET, big, train, data_shape=(128, 128)), hooks)
    assert hooks.epochs[0].train_loss > 0 and hooks.polls == 1  # one batch of all 32 images
    assert not outcome.stopped and outcome.epochs_done == 1
