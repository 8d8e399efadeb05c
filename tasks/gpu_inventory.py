"""What GPUs this machine has and how loaded they are, through NVML (``pynvml`` from the
``nvidia-ml-py`` distribution). Workers read it and store what they see on their rows; the API
shows those rows and never loads NVML (contracts.gpus has the shape).

Failures never raise: no driver, no library, any NVML error, no devices → an empty list and one
log line. ``index`` is NVML's (physical) index; NVML ignores CUDA_VISIBLE_DEVICES, so this module
maps it itself, assuming CUDA numbers devices in PCI bus order (CUDA_DEVICE_ORDER=PCI_BUS_ID, as
container runtimes set it).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Sequence

import pynvml

from contracts.gpus import GpuState

log = logging.getLogger(__name__)

_OPTIONAL_FIELD_ERRORS = (pynvml.NVML_ERROR_NOT_SUPPORTED,)


def _text(value: Any) -> str:
    """NVML strings arrive as str (new bindings) or bytes (old ones)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _optional(read, *args) -> int | None:
    """A field some GPUs (MIG slices, some boards) do not report: None when NOT_SUPPORTED;
    raises pynvml.NVMLError for any other failure."""
    try:
        return int(read(*args))
    except pynvml.NVMLError as exc:
        if getattr(exc, "value", None) in _OPTIONAL_FIELD_ERRORS:
            return None
        raise


def _read_one(index: int) -> GpuState:
    """Raises pynvml.NVMLError when the device cannot be read."""
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
    util = _optional(lambda h: pynvml.nvmlDeviceGetUtilizationRates(h).gpu, handle)
    temp = _optional(pynvml.nvmlDeviceGetTemperature, handle, pynvml.NVML_TEMPERATURE_GPU)
    return GpuState(index, _text(pynvml.nvmlDeviceGetName(handle)), _text(pynvml.nvmlDeviceGetUUID(handle)),
                    int(mem.total), int(mem.used), int(mem.free), util, temp)


def parse_visible_devices(value: str | None) -> list[str] | None:
    """CUDA_VISIBLE_DEVICES as its entries; None when unset (all devices visible). Like CUDA,
    the list ends at the first entry that is neither an index nor a GPU-/MIG- uuid."""
    if value is None:
        return None
    entries = []
    for raw in value.split(","):
        entry = raw.strip()
        if not (entry.isdigit() or entry.startswith(("GPU-", "MIG-"))):
            break
        entries.append(entry)
    return entries


def _visible_indices(all_gpus: Sequence[GpuState], visible: list[int] | None) -> list[int]:
    """Physical indices to report, in CUDA ordinal order."""
    if visible is not None:
        return list(visible)
    entries = parse_visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES"))
    if entries is None:
        return [g.index for g in all_gpus]
    out = []
    for entry in entries:
        match = [g.index for g in all_gpus if (str(g.index) == entry if entry.isdigit() else g.uuid.startswith(entry))]
        if not match:
            break  # CUDA stops at the first device that does not exist
        out.append(match[0])
    return out


def _read_all() -> list[GpuState]:
    """Every device NVML sees. Raises pynvml.NVMLError (after shutting NVML down again)."""
    pynvml.nvmlInit()
    try:
        return [_read_one(i) for i in range(pynvml.nvmlDeviceGetCount())]
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass


def read_gpus(visible: list[int] | None = None) -> list[GpuState]:
    """The GPUs this process may use: ``visible`` physical indices if given, else those
    CUDA_VISIBLE_DEVICES names (indices or uuids), else all. Never raises: any failure gives []
    and one log line."""
    try:
        all_gpus = _read_all()
    except pynvml.NVMLError as exc:
        log.warning("GPU inventory unavailable (NVML: %s); reporting no GPUs", exc)
        return []
    except Exception as exc:  # noqa: BLE001 — a broken driver stack must never break a caller
        log.warning("GPU inventory failed (%s: %s); reporting no GPUs", type(exc).__name__, exc)
        return []
    by_index = {g.index: g for g in all_gpus}
    chosen = [by_index[i] for i in _visible_indices(all_gpus, visible) if i in by_index]
    if not chosen:
        log.info("no visible GPUs (NVML sees %d)", len(all_gpus))
    return chosen
