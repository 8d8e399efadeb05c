"""Choosing the MXNet device a job runs on, inside the job (never at import or before a fork)."""

from __future__ import annotations

import re

import mxnet as mx

_GPU = re.compile(r"^gpu(?:\((\d+)\)|:(\d+))?$")


class DeviceUnavailable(RuntimeError):
    """The job asked for a GPU this process cannot see."""


def parse_device(device: str) -> tuple[str, int]:
    """("cpu", 0) or ("gpu", i) from "cpu", "gpu", "gpu(i)" or "gpu:i". Raises ValueError."""
    text = str(device).strip().lower()
    if text == "cpu":
        return "cpu", 0
    match = _GPU.match(text)
    if not match:
        raise ValueError(f"device must be 'cpu', 'gpu', 'gpu(i)' or 'gpu:i', got {device!r}")
    return "gpu", int(match.group(1) or match.group(2) or 0)


def resolve_context(device: str) -> mx.Context:
    """The mx.Context for ``device``. Raises ValueError for a malformed name and
    DeviceUnavailable when GPU i is asked for but fewer than i+1 GPUs are visible (a CPU-only
    MXNet build sees none)."""
    kind, index = parse_device(device)
    if kind == "cpu":
        return mx.cpu()
    visible = mx.context.num_gpus()
    if index >= visible:
        raise DeviceUnavailable(f"gpu({index}) asked for, but this process sees {visible} GPU(s)")
    return mx.gpu(index)
