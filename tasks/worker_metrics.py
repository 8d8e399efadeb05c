"""A worker's own metrics, served on its ``TRAINYARD_METRICS_PORT`` (Prometheus scrapes each
worker pod): epochs done, seconds per epoch, examples per second, whether it holds a task, its
heartbeats, its GPU through NVML (memory, utilisation, temperature, labelled by GPU uuid) and the
CUDA memory the task has allocated.

The task a worker holds is not a label (task ids are unbounded): ``trainyard_worker_busy`` says
whether it holds one and ``GET /api/v0/gpus`` says which. Gauges keep the most recent value in
the multiprocess mode of the embedded default, where the API's /metrics shows them.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from models.job import EpochMetrics

EPOCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
_LABELS = ["worker", "backend"]
_GPU = ["worker", "gpu_uuid", "gpu_name"]


def _gauge(name: str, doc: str, labels: list[str]) -> Gauge:
    return Gauge(name, doc, labels, multiprocess_mode="mostrecent")


EPOCHS = Counter("trainyard_worker_epochs", "Training epochs this worker finished", _LABELS)
EPOCH_SECONDS = Histogram("trainyard_worker_epoch_seconds", "Seconds per training epoch", _LABELS,
                          buckets=EPOCH_BUCKETS)
EXAMPLES_RATE = _gauge("trainyard_worker_examples_per_second",
                       "Training examples per second in the last epoch", _LABELS)
BUSY = _gauge("trainyard_worker_busy", "1 while the worker holds a task", _LABELS)
HEARTBEATS = Counter("trainyard_worker_heartbeats", "Heartbeats the worker recorded", _LABELS)
LAST_BEAT = _gauge("trainyard_worker_last_heartbeat_timestamp_seconds",
                   "Unix time of the worker's last recorded heartbeat", _LABELS)
CUDA_ALLOCATED = _gauge("trainyard_worker_cuda_memory_allocated_bytes",
                        "CUDA memory the task's tensors hold (torch.cuda.memory_allocated)", _LABELS)
GPU_TOTAL = _gauge("trainyard_gpu_memory_total_bytes", "GPU memory, total (NVML)", _GPU)
GPU_USED = _gauge("trainyard_gpu_memory_used_bytes", "GPU memory in use by any process (NVML)", _GPU)
GPU_FREE = _gauge("trainyard_gpu_memory_free_bytes", "GPU memory free (NVML)", _GPU)
GPU_UTIL = _gauge("trainyard_gpu_utilization_ratio", "GPU busy fraction over NVML's last sample", _GPU)
GPU_TEMP = _gauge("trainyard_gpu_temperature_celsius", "GPU temperature (NVML)", _GPU)

_me: dict[str, str] = {"worker": "", "backend": ""}


def start(worker: str, backend: str, port: int) -> None:
    """Name this worker's series and serve them on ``port`` (0: none)."""
    from tasks.metrics_registry import serve

    _me.update(worker=worker, backend=backend)
    BUSY.labels(worker, backend).set(0)
    serve(port, role=f"worker {worker}")


def _mine() -> tuple[str, str]:
    return _me["worker"], _me["backend"]


def epoch_done(metrics: EpochMetrics) -> None:
    EPOCHS.labels(*_mine()).inc()
    EPOCH_SECONDS.labels(*_mine()).observe(metrics.seconds)
    if metrics.seconds > 0 and metrics.examples:
        EXAMPLES_RATE.labels(*_mine()).set(metrics.examples / metrics.seconds)


def busy(holding: bool) -> None:
    BUSY.labels(*_mine()).set(1 if holding else 0)
    if not holding:
        EXAMPLES_RATE.labels(*_mine()).set(0)


def heartbeat(gpus: list[dict[str, Any]]) -> None:
    """After a recorded heartbeat: count it and refresh the GPU figures it carried."""
    HEARTBEATS.labels(*_mine()).inc()
    LAST_BEAT.labels(*_mine()).set(time.time())
    gpu_figures(gpus)
    allocated = _cuda_allocated()
    if allocated is not None:
        CUDA_ALLOCATED.labels(*_mine()).set(allocated)


def gpu_figures(gpus: list[dict[str, Any]]) -> None:
    """``gpus``: tasks.gpu_inventory.GpuState as dicts (what the worker row stores)."""
    for gpu in gpus:
        labels = (_me["worker"], gpu["uuid"], gpu["name"])
        GPU_TOTAL.labels(*labels).set(gpu["total_bytes"])
        GPU_USED.labels(*labels).set(gpu["used_bytes"])
        GPU_FREE.labels(*labels).set(gpu["free_bytes"])
        if gpu.get("utilization_percent") is not None:
            GPU_UTIL.labels(*labels).set(gpu["utilization_percent"] / 100.0)
        if gpu.get("temperature_c") is not None:
            GPU_TEMP.labels(*labels).set(gpu["temperature_c"])


def _cuda_allocated() -> int | None:
    """CUDA memory allocated through torch in this process, if torch is loaded and CUDA is in
    use (never imports torch, never initialises CUDA: celery#3402)."""
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_initialized():
            return None
        return int(torch.cuda.memory_allocated())
    except AttributeError:  # the job thread is still importing torch: nothing allocated yet
        return None
