"""A stand-in for NVML (the ``pynvml`` module of nvidia-ml-py) for worker processes in tests on
machines without a GPU. Put this folder first on PYTHONPATH and describe the GPUs in
FAKE_NVML_GPUS as JSON: [{"name": "...", "total": bytes, "used": bytes}, ...]."""

import json
import os

NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_UNINITIALIZED = 1
NVML_TEMPERATURE_GPU = 0


class NVMLError(Exception):
    def __init__(self, value=NVML_ERROR_UNINITIALIZED):
        super().__init__(value)
        self.value = value


class _Memory:
    def __init__(self, gpu):
        self.total, self.used = gpu["total"], gpu["used"]
        self.free = self.total - self.used


class _Rates:
    gpu, memory = 0, 0


def _gpus():
    return json.loads(os.environ.get("FAKE_NVML_GPUS", "[]"))


def nvmlInit():
    pass


def nvmlShutdown():
    pass


def nvmlDeviceGetCount():
    return len(_gpus())


def nvmlDeviceGetHandleByIndex(index):
    return index


def nvmlDeviceGetName(handle):
    return _gpus()[handle]["name"]


def nvmlDeviceGetUUID(handle):
    return f"GPU-fake-{handle}"


def nvmlDeviceGetMemoryInfo(handle):
    return _Memory(_gpus()[handle])


def nvmlDeviceGetUtilizationRates(handle):
    return _Rates()


def nvmlDeviceGetTemperature(handle, sensor):
    return 40
