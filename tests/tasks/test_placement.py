"""The placement decision on its own: GPU preference, free memory, busy workers, CPU fallback."""

from dataclasses import dataclass, field

from tasks.placement import Requirements, direct_queue, place

GIB = 1024**3


@dataclass
class W:
    name: str
    gpus: list = field(default_factory=list)
    current_task_id: str | None = None


def gpu(index: int, free_gib: float, total_gib: float = 24) -> dict:
    total = int(total_gib * GIB)
    free = int(free_gib * GIB)
    return {"index": index, "name": "GPU", "uuid": f"u{index}", "total_bytes": total,
            "used_bytes": total - free, "free_bytes": free, "utilization_percent": 0, "temperature_c": 40}


def test_no_gpu_anywhere_goes_to_the_shared_queue():
    p = place("torch", Requirements(), [W("cpu1")])
    assert (p.queue, p.worker, p.reason) == ("torch", None, None)


def test_auto_prefers_the_gpu_with_most_free_memory():
    workers = [W("a", [gpu(0, 4)]), W("b", [gpu(0, 12)]), W("c")]
    p = place("torch", Requirements(), workers)
    assert p.worker == "b" and p.queue == direct_queue("torch", "b")


def test_busy_gpus_make_the_task_wait_with_a_reason():
    p = place("torch", Requirements(), [W("a", [gpu(0, 20)], current_task_id="T1")])
    assert p.queue is None and "busy" in p.reason


def test_minimum_free_memory_is_respected():
    workers = [W("a", [gpu(0, 4)]), W("b", [gpu(0, 6)])]
    assert place("torch", Requirements(min_free_memory_mb=5 * 1024), workers).worker == "b"
    waiting = place("torch", Requirements(min_free_memory_mb=64 * 1024), workers)
    assert waiting.queue is None and "free" in waiting.reason


def test_cpu_tasks_use_the_shared_queue_even_beside_gpus():
    assert place("torch", Requirements(device="cpu"), [W("a", [gpu(0, 8)])]).queue == "torch"


def test_gpu_required_but_none_live_waits():
    p = place("torch", Requirements(device="gpu"), [W("cpu1")])
    assert p.queue is None and "no live worker has a GPU" in p.reason


def test_workers_just_taken_are_skipped():
    workers = [W("a", [gpu(0, 4)]), W("b", [gpu(0, 12)])]
    assert place("torch", Requirements(), workers, frozenset({"b"})).worker == "a"


def test_a_gpu_fleet_scaled_to_zero_keeps_auto_tasks_for_a_gpu():
    p = place("torch", Requirements(), [W("cpu1")], auto_device="gpu")
    assert p.queue is None and "no live worker has a GPU" in p.reason
