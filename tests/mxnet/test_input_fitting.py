"""MXNet's image semantics (models.mxnet_backend.fitting): images fitted to an asked data_shape
exactly as mx.image.ImageIter yields them for the same images, and a training, its evaluation
and its ONNX export at the asked shape."""

from dataclasses import replace

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")

from models.mxnet_backend.checkpoint import unpack_checkpoint  # noqa: E402
from models.mxnet_backend.demo import make_demo_images  # noqa: E402
from models.mxnet_backend.engine import evaluate_checkpoint, run_mx_job  # noqa: E402
from models.mxnet_backend.fitting import fit_images, fitting_record  # noqa: E402
from models.mxnet_backend.onnx_export import export_checkpoint, verify  # noqa: E402
from models.mxnet_backend.png import encode_png  # noqa: E402
from models.mxnet_backend.spec import MxJobSpec, MxSpecError, MxTrainParams  # noqa: E402
from tests.models.engine_helpers import Recorder  # noqa: E402

PARAMS = MxTrainParams(num_epoch=1, batch_size=32, base_lr=0.05, initializer="xavier", seed=1)
RNG = np.random.default_rng(7)
GREY = RNG.integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
COLOUR = RNG.integers(0, 256, (5, 20, 30, 3), dtype=np.uint8)


def image_iter_batch(images: np.ndarray, data_shape: tuple[int, int, int], tmp_path) -> np.ndarray:
    """What MXNet's own ImageIter yields for these images, stored as PNG files: (N, C, H, W)."""
    listed = []
    for i, image in enumerate(images):
        (tmp_path / f"{i}.png").write_bytes(encode_png(image))
        listed.append([float(i), f"{i}.png"])
    it = mx.image.ImageIter(batch_size=len(images), data_shape=data_shape, imglist=listed, path_root=str(tmp_path))
    return it.next().data[0].asnumpy()


@pytest.mark.parametrize("images,data_shape", [
    (GREY, (3, 128, 128)),  # the seed's CIFAR-style request on small grey images: colour, upsampled
    (COLOUR, (3, 16, 24)),  # larger than asked: a centred crop, no resize
    (COLOUR, (3, 64, 32)),  # another aspect ratio: the centred region of that ratio, resized
    (COLOUR, (3, 20, 30)),  # the stored size: unchanged
], ids=["grey-to-colour-128", "crop", "crop-and-resize", "same"])
def test_fitting_is_what_image_iter_yields(images, data_shape, tmp_path):
    want = image_iter_batch(images, data_shape, tmp_path)
    got = fit_images(images, data_shape).transpose(0, 3, 1, 2).astype(np.float32)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_one_channel_is_mxnets_grey_decoding():
    """ImageIter takes 3 channels only; 1 is what MXNet's decoder gives with flag 0."""
    got = fit_images(COLOUR, (1, 20, 30))
    want = np.stack([mx.image.imdecode(encode_png(image), flag=0).asnumpy() for image in COLOUR])
    np.testing.assert_array_equal(got, want)


def test_the_record_says_from_to_and_how():
    record = fitting_record((28, 28, 1), (3, 128, 128))
    assert record["from"] == [1, 28, 28] and record["to"] == [3, 128, 128]
    assert "colour" in record["how"] and "center_crop" in record["how"]
    assert fitting_record((28, 28, 1), (1, 28, 28)) is None and fitting_record((28, 28, 1), None) is None


@pytest.fixture(scope="module")
def fitted_training():
    train, val = make_demo_images(per_class=20, seed=0), make_demo_images(per_class=8, seed=1)
    spec = MxJobSpec("dl_ts", "small-cnn", PARAMS, train, val, val, data_shape=(3, 40, 40))
    return spec, run_mx_job(spec, Recorder())


def test_training_feeds_the_asked_shape_and_records_it(fitted_training):
    _, outcome = fitted_training
    assert outcome.result["input_fitting"]["from"] == [1, 28, 28]
    assert outcome.result["input_fitting"]["to"] == [3, 40, 40]
    meta = unpack_checkpoint(outcome.weights).meta
    assert meta.image_shape == (40, 40, 3) and meta.fitted
    assert outcome.contract["image_shape"] == [40, 40, 3]


def test_evaluation_fits_its_images_as_the_training_did(fitted_training):
    spec, outcome = fitted_training
    same = evaluate_checkpoint(outcome.weights, "small-cnn", spec.test)  # 28×28 grey in, fitted to 3×40×40
    assert same.loss == pytest.approx(outcome.result["test"]["loss"], rel=1e-5)
    ev = replace(spec, task_type="dl_ev", train=None, val=None, data_shape=None, init_weights=outcome.weights)
    result = run_mx_job(ev, Recorder()).result
    assert result["input_fitting"]["to"] == [3, 40, 40]
    assert result["test"]["loss"] == pytest.approx(same.loss, rel=1e-5)
    other = run_mx_job(replace(ev, eval_size=(48, 48)), Recorder()).result  # /eval's img_shapes
    assert other["input_fitting"]["to"] == [3, 48, 48]


def test_the_export_takes_the_asked_shape_and_verifies_on_fitted_images(fitted_training):
    spec, outcome = fitted_training
    exported = export_checkpoint(outcome.weights)
    assert exported.contract["image_shape"] == [40, 40, 3]
    assert exported.contract["inputs"][0]["shape"] == [-1, 40, 40, 3]
    assert verify(outcome.weights, exported, spec.test, "test")["same_class"] == spec.test.n_images


@pytest.mark.parametrize("data_shape,message", [
    ((2, 28, 28), "1- or 3-channel"),
    ((1, 256, 256), "at most 128 pixels"),
    ((1, 0, 28), "too small"),
])
def test_what_mxnet_or_the_network_cannot_take_is_refused(data_shape, message):
    spec = MxJobSpec("dl_ts", "small-cnn", PARAMS, make_demo_images(per_class=2), data_shape=data_shape)
    with pytest.raises(MxSpecError, match=message):
        run_mx_job(spec, Recorder())
