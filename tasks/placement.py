"""Where a task should run (pure decision, no I/O).

A worker pinned to a GPU consumes only its own queue, so GPU work goes exactly where the
dispatcher sends it: the idle GPU with the most free memory that fits. CPU workers also consume
the backend's shared queue, which takes everything that needs no GPU.

dao/pending_work.py restates the GPU-or-CPU part of this decision in SQL, for the autoscalers;
tests/tasks/test_pending_work_placement.py fails when the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from contracts.gpus import GpuState
from contracts.task_needs import DEVICES, Requirements  # noqa: F401 - re-exported


class WorkerView(Protocol):
    name: str
    gpus: list[dict[str, Any]]
    current_task_id: str | None


@dataclass(frozen=True)
class Placement:
    queue: str | None  # None: nothing fits now, the task waits
    worker: str | None  # the reserved worker for a GPU placement
    reason: str | None  # why it waits


def direct_queue(base_queue: str, worker: str) -> str:
    """The queue only ``worker`` consumes."""
    return f"{base_queue}.w.{worker}"


def gpu_candidates(workers: Sequence[WorkerView]) -> list[tuple[str, GpuState, bool]]:
    return [(w.name, GpuState(**gpu), w.current_task_id is not None)
            for w in workers for gpu in (w.gpus or [])]


def place(base_queue: str, req: Requirements, workers: Sequence[WorkerView],
          exclude: frozenset[str] = frozenset(), auto_device: str = "any") -> Placement:
    """Decide for one task among live workers of its backend; ``exclude`` names workers just
    found taken by another dispatcher; ``auto_device`` is Settings.auto_device."""
    candidates = [c for c in gpu_candidates(workers) if c[0] not in exclude]
    auto_gpu = auto_device == "gpu" or bool(gpu_candidates(workers))
    wants_gpu = req.device == "gpu" or (req.device == "auto" and auto_gpu)
    if not wants_gpu:
        return Placement(base_queue, None, None)
    choice, reason = choose_gpu(candidates, req.min_free_memory_mb * 1024 * 1024)
    if choice is None:
        return Placement(None, None, f"waiting for a GPU: {reason}")
    worker, _gpu = choice
    return Placement(direct_queue(base_queue, worker), worker, None)


def choose_gpu(candidates: Sequence[tuple[Any, GpuState, bool]], min_free_bytes: int = 0
               ) -> tuple[tuple[Any, GpuState] | None, str]:
    """Placement: among (worker, gpu, busy) candidates, the idle GPU with the most free memory
    that has at least ``min_free_bytes`` free (ties: lower worker name, then lower index).

    Returns ((worker, gpu), "") or (None, reason) where reason says why nothing fits right now.
    """
    if not candidates:
        return None, "no live worker has a GPU"
    idle = [(w, g) for w, g, busy in candidates if not busy]
    if not idle:
        return None, f"all {len(candidates)} GPU(s) are busy"
    fitting = [(w, g) for w, g in idle if g.free_bytes >= min_free_bytes]
    if not fitting:
        most = max(g.free_bytes for _, g in idle)
        return None, (f"no idle GPU has {min_free_bytes} bytes free (the most free on an idle GPU is "
                      f"{most} bytes)")
    best = min(fitting, key=lambda wg: (-wg[1].free_bytes, str(wg[0]), wg[1].index))
    return best, ""
