"""A GPU as a worker reports it (its NVML figures, stored on the worker's row) and as MXServer's
``GET /gpu`` shows it. The workers read GPUs (tasks.gpu_inventory, through NVML); the API only
shows what they stored, and never loads NVML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuState:
    index: int  # NVML / physical index on the machine
    name: str
    uuid: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    utilization_percent: int | None  # None where the GPU does not report it
    temperature_c: int | None


def to_mxserver_shape(gpus: Sequence[GpuState]) -> list[dict[str, str]]:
    """MXServer's ``GET /gpu`` body: every figure a string, memory in bytes, device_id the index."""
    return [{"free_mem": str(g.free_bytes), "used_mem": str(g.used_bytes), "total_mem": str(g.total_bytes),
             "device_id": str(g.index)} for g in gpus]
