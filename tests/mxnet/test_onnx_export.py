"""mx2onnx export of trained MXNet classifiers, verified against MXNet on real images: the
graph takes raw (N, H, W, C) pixels, fits them as the engine does (grey → 3 channels,
upsampling) and answers the same probabilities; an export that does not match is refused."""

import numpy as np
import pytest

pytest.importorskip("mxnet")

import mxnet as mx  # noqa: E402

from models.mxnet_backend.checkpoint import CheckpointMeta, pack_checkpoint  # noqa: E402
from models.mxnet_backend.engine import run_mx_job  # noqa: E402
from models.mxnet_backend.networks import build_network  # noqa: E402
from models.mxnet_backend.onnx_export import (  # noqa: E402
    TOLERANCE, ExportFailed, export_checkpoint, mxnet_probabilities, onnx_probabilities, verify,
)
from models.mxnet_backend.spec import MxJobSpec, MxTrainParams  # noqa: E402
from tests.models.engine_helpers import Recorder  # noqa: E402


@pytest.fixture(scope="module")
def small(demo_val):
    spec = MxJobSpec("dl_ts", "small-cnn", MxTrainParams(num_epoch=2, batch_size=32, seed=3), demo_val, None, None)
    blob = run_mx_job(spec, Recorder()).weights
    return blob, export_checkpoint(blob)


def untrained(network: str, ds) -> bytes:
    """A freshly initialised zoo network's checkpoint (export does not depend on training)."""
    net = build_network(network, ds.n_classes)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net(mx.nd.zeros((1, 3, 32, 32)))
    return pack_checkpoint(net, None, CheckpointMeta(network, ds.class_names, ds.image_shape, 1))


def test_small_cnn_export_matches_mxnet_on_held_out_images(small, demo_train):
    blob, exported = small
    record = verify(blob, exported, demo_train, "test")
    assert record["max_abs_diff"] <= TOLERANCE and record["same_class"] == demo_train.n_images == 400
    c = exported.contract
    assert c["image_shape"] == [28, 28, 1] and c["inputs"][0] == {"name": "image", "datatype": "FP32",
                                                                  "shape": [-1, 28, 28, 1]}
    assert c["class_names"] == list(demo_train.class_names) and c["preprocessing"]["network_input"] == "as is"


def test_the_graph_takes_any_batch_size(small, demo_train):
    blob, exported = small
    for n in (1, 7):
        got = onnx_probabilities(exported.onnx, demo_train.images[:n])
        np.testing.assert_allclose(got, mxnet_probabilities(blob, demo_train.images[:n]), atol=TOLERANCE)
        np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)


def test_a_zoo_network_on_grey_images_repeats_channels_and_upsamples_in_the_graph(demo_val):
    small28 = demo_val.subset(range(16))
    blob = untrained("mobilenet0.25", small28)  # min_size 32: 28 px grey → 3 × 32 px
    exported = export_checkpoint(blob)
    steps = exported.contract["preprocessing"]["network_input"]
    assert "3 channels" in steps and "upsampling" in steps
    record = verify(blob, exported, small28, "test")
    assert record["max_abs_diff"] <= TOLERANCE


def test_an_export_that_does_not_match_is_refused_with_the_reason(small, demo_val):
    """A tolerance nothing meets stands for a network whose export drifts."""
    blob, exported = small
    with pytest.raises(ExportFailed, match="differs from MXNet by .* on the task's test images; 100 of 100"):
        verify(blob, exported, demo_val, "test", tolerance=-1.0)
    with pytest.raises(ExportFailed, match="no images"):
        verify(blob, exported, demo_val.subset([]), "test")
