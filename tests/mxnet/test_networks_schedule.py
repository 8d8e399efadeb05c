"""Network registry, input fitting, learning-rate schedule, initialisers, device names."""

import subprocess
import sys

import pytest

mx = pytest.importorskip("mxnet")

from models.mxnet_backend.context import DeviceUnavailable, parse_device, resolve_context  # noqa: E402
from models.mxnet_backend.networks import (  # noqa: E402
    MX_NETWORKS, UnknownNetwork, build_network, find_network, fit_batch, input_problems,
)
from models.mxnet_backend.schedule import factor_lr, make_initializer, make_lr_scheduler  # noqa: E402


def test_find_network_by_name_and_alias_any_case():
    assert find_network("ResNet18").name == "resnet18_v1"
    assert find_network("MOBILENET").name == "mobilenet1.0"
    assert find_network("lenet").name == "small-cnn"
    with pytest.raises(UnknownNetwork, match="unknown MXNet network 'vgg99'"):
        find_network("vgg99")


@pytest.mark.parametrize("name", ["small-cnn", "alexnet", "resnet18_v1", "mobilenet0.25"])
def test_networks_build_without_downloads_and_fit_grey_28px_input(name):
    info = find_network(name)
    net = build_network(name, classes=5)
    net.initialize(mx.init.Xavier())
    x = fit_batch(info, mx.nd.zeros((2, 1, 28, 28)))
    assert x.shape[1] == (1 if info.channels is None else 3)
    assert min(x.shape[2:]) >= info.min_size
    assert net(x).shape == (2, 5)


def test_registry_is_json_ready_and_complete():
    names = {i.name for i in MX_NETWORKS}
    assert {"small-cnn", "alexnet", "resnet18_v1", "mobilenet1.0"} <= names
    assert all(i.public()["backend"] == "mxnet" for i in MX_NETWORKS)


def test_input_problems_and_class_count():
    assert input_problems(find_network("small-cnn"), (28, 28, 1)) == []
    assert "too small" in input_problems(find_network("resnet18_v1"), (4, 4, 3))[0]
    assert "at most 128 pixels" in input_problems(find_network("small-cnn"), (256, 256, 3))[0]
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_network("small-cnn", 1)


@pytest.mark.parametrize("step, factor, stop", [(3, 0.5, 1e-8), (1, 0.9, 0.05), (5, 0.1, 1e-4), (2, 1.0, 0.0)])
def test_factor_lr_matches_mxnet_factor_scheduler(step, factor, stop):
    sched = mx.lr_scheduler.FactorScheduler(step=step, factor=factor, stop_factor_lr=stop, base_lr=0.1)
    for n in range(0, 40):
        assert factor_lr(n, 0.1, step, factor, stop) == pytest.approx(sched(n)), n


def test_factor_lr_known_values():
    assert [factor_lr(n, 1.0, 10, 0.5, 0.2) for n in (0, 10, 11, 20, 21, 31, 100)] == [1, 1, 0.5, 0.5, 0.25, 0.2, 0.2]


def test_make_lr_scheduler_steps_in_epochs():
    sched = make_lr_scheduler(0.1, lr_step_epochs=2, factor=0.5, stop_factor_lr=1e-8, batches_per_epoch=4)
    assert sched.step == 8
    assert make_lr_scheduler(0.1, 0, 0.5, 1e-8, 4) is None
    assert make_lr_scheduler(0.1, 3, 1.0, 1e-8, 4) is None
    with pytest.raises(ValueError):
        make_lr_scheduler(0.1, 1, 1.5, 1e-8, 4)


def test_make_lr_scheduler_in_updates_as_mxserver_counts():
    assert make_lr_scheduler(0.1, 0, 0.5, 1e-8, 4, step_updates=1000).step == 1000
    multi = make_lr_scheduler(0.1, 0, 0.5, 1e-8, 4, steps_updates=(5, 9))
    assert type(multi).__name__ == "MultiFactorScheduler" and multi.step == [5, 9]
    assert [multi(n) for n in (5, 6, 10)] == pytest.approx([0.1, 0.05, 0.025])


def test_initializers_take_their_parameter():
    assert make_initializer("normal", 0.25).sigma == 0.25
    assert make_initializer("uniform", 0.5).scale == 0.5
    assert make_initializer("xavier", 2.0).magnitude == 2.0
    assert make_initializer("msra", 0.5).magnitude == pytest.approx(2.0 / (1 + 0.5**2))


@pytest.mark.parametrize("name, cls", [("xavier", "Xavier"), ("Uniform", "Uniform"), ("normal", "Normal"),
                                       ("msra", "MSRAPrelu")])
def test_initializers_by_name(name, cls):
    assert type(make_initializer(name)).__name__ == cls


def test_unknown_initializer():
    with pytest.raises(ValueError, match="unknown initializer 'zeros'"):
        make_initializer("zeros")


def test_devices():
    assert parse_device("gpu(2)") == ("gpu", 2) and parse_device("gpu:1") == ("gpu", 1)
    assert parse_device("GPU") == ("gpu", 0)
    assert resolve_context("cpu") == mx.cpu()
    with pytest.raises(ValueError):
        parse_device("tpu")
    if mx.context.num_gpus() == 0:
        with pytest.raises(DeviceUnavailable, match="sees 0 GPU"):
            resolve_context("gpu(0)")


def test_backend_imports_no_torch_and_runs_on_old_numpy():
    code = ("import sys, numpy, models.mxnet_backend, models.job; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert tuple(int(v) for v in numpy.__version__.split('.')[:2]) < (1, 24), numpy.__version__")
    subprocess.run([sys.executable, "-c", code], check=True)
