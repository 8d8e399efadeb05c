"""GPU inventory through NVML and GPU placement.

This machine has no GPU, so most tests run against a fake NVML: the pynvml functions the module
calls are replaced with ones answering from a table. One test calls the real NVML and expects
an empty list, not an exception.
"""

import logging
from types import SimpleNamespace

import pynvml
import pytest

from tasks import gpu_inventory
from tasks.gpu_inventory import parse_visible_devices, read_gpus
from tasks.placement import choose_gpu
from contracts.gpus import GpuState, to_mxserver_shape

GIB = 1024**3
DEVICES = [
    dict(name="NVIDIA GeForce GTX 1080", uuid="GPU-aaaa1111", total=8532721664, used=378404864,
         free=8154316800, util=7, temp=41),
    dict(name=b"NVIDIA A100-SXM4-40GB", uuid=b"GPU-bbbb2222", total=40 * GIB, used=10 * GIB,
         free=30 * GIB, util=93, temp=67),
]


class FakeNvml:
    """Installs fake pynvml functions; ``fail`` maps a function name to the NVML error code it
    raises (for a device function: only for device ``fail_index``)."""

    def __init__(self, monkeypatch, devices=DEVICES, fail=None, fail_index=None):
        self.devices, self.fail, self.fail_index = devices, fail or {}, fail_index
        self.calls: list[str] = []
        for name in ("nvmlInit", "nvmlShutdown", "nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex",
                     "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetTemperature",
                     "nvmlDeviceGetName", "nvmlDeviceGetUUID"):
            monkeypatch.setattr(pynvml, name, self._wrap(name))

    def _wrap(self, name):
        def call(*args):
            self.calls.append(name)
            device = args[0] if args and isinstance(args[0], int) else getattr(args[0], "i", None) if args else None
            if name in self.fail and (self.fail_index is None or device == self.fail_index):
                raise pynvml.NVMLError(self.fail[name])
            return getattr(self, name[4:])(*args)
        return call

    def Init(self):
        return None

    def Shutdown(self):
        return None

    def DeviceGetCount(self):
        return len(self.devices)

    def DeviceGetHandleByIndex(self, i):
        if i >= len(self.devices):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return SimpleNamespace(i=i)

    def DeviceGetMemoryInfo(self, h):
        d = self.devices[h.i]
        return SimpleNamespace(total=d["total"], used=d["used"], free=d["free"])

    def DeviceGetUtilizationRates(self, h):
        return SimpleNamespace(gpu=self.devices[h.i]["util"], memory=0)

    def DeviceGetTemperature(self, h, sensor):
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self.devices[h.i]["temp"]

    def DeviceGetName(self, h):
        return self.devices[h.i]["name"]

    def DeviceGetUUID(self, h):
        return self.devices[h.i]["uuid"]


@pytest.fixture(autouse=True)
def no_visible_devices_env(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_two_gpus_read_correctly(monkeypatch):
    nvml = FakeNvml(monkeypatch)
    gpus = read_gpus()
    assert gpus == [
        GpuState(0, "NVIDIA GeForce GTX 1080", "GPU-aaaa1111", 8532721664, 378404864, 8154316800, 7, 41),
        GpuState(1, "NVIDIA A100-SXM4-40GB", "GPU-bbbb2222", 40 * GIB, 10 * GIB, 30 * GIB, 93, 67),
    ]
    assert nvml.calls[0] == "nvmlInit" and nvml.calls[-1] == "nvmlShutdown"


@pytest.mark.parametrize("code", [pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
                                  pynvml.NVML_ERROR_NO_PERMISSION, pynvml.NVML_ERROR_UNKNOWN])
def test_init_failure_gives_empty_list_and_one_log_line(monkeypatch, caplog, code):
    nvml = FakeNvml(monkeypatch, fail={"nvmlInit": code})
    with caplog.at_level(logging.INFO, logger="tasks.gpu_inventory"):
        assert read_gpus() == []
    assert len(caplog.records) == 1 and "no GPUs" in caplog.records[0].getMessage()
    assert "nvmlShutdown" not in nvml.calls  # never initialised, never shut down


@pytest.mark.parametrize("function", ["nvmlDeviceGetMemoryInfo", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetUUID"])
def test_per_device_error_gives_empty_list_and_still_shuts_down(monkeypatch, caplog, function):
    nvml = FakeNvml(monkeypatch, fail={function: pynvml.NVML_ERROR_GPU_IS_LOST}, fail_index=1)
    with caplog.at_level(logging.INFO, logger="tasks.gpu_inventory"):
        assert read_gpus() == []
    assert len(caplog.records) == 1
    assert nvml.calls[-1] == "nvmlShutdown"


def test_count_failure_gives_empty_list(monkeypatch):
    FakeNvml(monkeypatch, fail={"nvmlDeviceGetCount": pynvml.NVML_ERROR_UNKNOWN})
    assert read_gpus() == []


def test_unreported_utilisation_and_temperature_are_none_not_a_failure(monkeypatch):
    FakeNvml(monkeypatch, fail={"nvmlDeviceGetUtilizationRates": pynvml.NVML_ERROR_NOT_SUPPORTED,
                                "nvmlDeviceGetTemperature": pynvml.NVML_ERROR_NOT_SUPPORTED})
    gpus = read_gpus()
    assert [(g.utilization_percent, g.temperature_c) for g in gpus] == [(None, None), (None, None)]


def test_no_devices_gives_empty_list(monkeypatch, caplog):
    FakeNvml(monkeypatch, devices=[])
    with caplog.at_level(logging.INFO, logger="tasks.gpu_inventory"):
        assert read_gpus() == []
    assert len(caplog.records) == 1


@pytest.mark.parametrize("env, indices", [
    ("1", [1]),
    ("1,0", [1, 0]),
    ("0", [0]),
    ("", []),
    ("-1", []),
    ("1,7,0", [1]),  # CUDA stops at the first device that does not exist
    ("GPU-bbbb", [1]),  # uuid prefixes work too
    ("GPU-aaaa1111,1", [0, 1]),
])
def test_cuda_visible_devices_maps_to_physical_gpus(monkeypatch, env, indices):
    FakeNvml(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", env)
    assert [g.index for g in read_gpus()] == indices


def test_explicit_visible_list_wins_over_environment(monkeypatch):
    FakeNvml(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert [g.index for g in read_gpus(visible=[1])] == [1]
    assert read_gpus(visible=[5]) == []


def test_parse_visible_devices():
    assert parse_visible_devices(None) is None
    assert parse_visible_devices(" 2, 3 ") == ["2", "3"]
    assert parse_visible_devices("0,abc,1") == ["0"]


def test_mxserver_shape_exact(monkeypatch):
    FakeNvml(monkeypatch)
    assert to_mxserver_shape(read_gpus(visible=[0])) == [
        {"free_mem": "8154316800", "used_mem": "378404864", "total_mem": "8532721664", "device_id": "0"}
    ]
    assert to_mxserver_shape([]) == []


def test_real_nvml_on_this_machine_never_raises():
    gpus = read_gpus()
    if not gpu_inventory_has_driver():
        assert gpus == []
        return
    pynvml.nvmlInit()
    try:
        assert [g.index for g in gpus] == list(range(pynvml.nvmlDeviceGetCount()))
    finally:
        pynvml.nvmlShutdown()


def gpu_inventory_has_driver() -> bool:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


def _gpu(index, free):
    return GpuState(index, "gpu", f"GPU-{index}", 16 * GIB, 16 * GIB - free, free, 0, 40)


def test_choose_gpu_prefers_the_idle_gpu_with_most_free_memory():
    candidates = [("w1", _gpu(0, 12 * GIB), True), ("w2", _gpu(0, 6 * GIB), False), ("w3", _gpu(1, 9 * GIB), False)]
    (worker, gpu), reason = choose_gpu(candidates, min_free_bytes=4 * GIB)
    assert (worker, gpu.free_bytes, reason) == ("w3", 9 * GIB, "")


def test_choose_gpu_ties_break_on_worker_then_index():
    candidates = [("w2", _gpu(0, GIB), False), ("w1", _gpu(1, GIB), False), ("w1", _gpu(0, GIB), False)]
    (worker, gpu), _ = choose_gpu(candidates)
    assert (worker, gpu.index) == ("w1", 0)


@pytest.mark.parametrize("candidates, need, reason", [
    ([], 0, "no live worker has a GPU"),
    ([("w1", _gpu(0, 8 * GIB), True), ("w2", _gpu(0, 8 * GIB), True)], 0, "all 2 GPU(s) are busy"),
    ([("w1", _gpu(0, 2 * GIB), False), ("w2", _gpu(0, 3 * GIB), False), ("w3", _gpu(0, 15 * GIB), True)], 4 * GIB,
     f"no idle GPU has {4 * GIB} bytes free (the most free on an idle GPU is {3 * GIB} bytes)"),
])
def test_choose_gpu_says_why_nothing_fits(candidates, need, reason):
    assert choose_gpu(candidates, need) == (None, reason)
