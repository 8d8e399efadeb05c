"""Placement across GPU workers (GPUs from a fake NVML: this machine has none): the GPU with
the most free memory wins, a task that fits nowhere waits with its reason and goes when
something frees, and nothing is lost or bounced."""

from __future__ import annotations

import pytest

from tests.service.forms import form
from tests.service.stack import running_stack

pytestmark = pytest.mark.slow
GIB = 1024**3


def fake_gpu(free_gib: int, total_gib: int = 24) -> dict:
    return {"name": "Fake GPU", "total": total_gib * GIB, "used": (total_gib - free_gib) * GIB}


@pytest.fixture(scope="module")
def gpu_stack():
    with running_stack(workers=0) as s:
        s.start_worker("small", fake_gpus=[fake_gpu(8)])
        s.start_worker("big", fake_gpus=[fake_gpu(16)])
        yield s


def _worker_label(task: dict) -> str:
    return task["worker"].split("-", 1)[0]


LONG = dict(epochs=400, batch_size=1)


def test_gpu_with_most_free_memory_first_then_the_next_then_wait(gpu_stack):
    first = gpu_stack.submit(form(**LONG))
    assert _worker_label(gpu_stack.wait_task(first, statuses={"RUNNING"})) == "big"
    second = gpu_stack.submit(form(**LONG))
    assert _worker_label(gpu_stack.wait_task(second, statuses={"RUNNING"})) == "small"

    third = gpu_stack.submit(form(epochs=1))
    waiting = gpu_stack.task(third)
    assert waiting["status"] == "QUEUED" and "busy" in waiting["waiting_reason"]

    gpu_stack.post(f"/api/v0/tasks/{first}/stop")
    done = gpu_stack.wait_task(third, timeout=60)
    assert done["status"] == "SUCCEEDED" and _worker_label(done) == "big"
    gpu_stack.post(f"/api/v0/tasks/{second}/stop")
    assert gpu_stack.wait_task(second)["status"] == "STOPPED"


def test_a_task_needing_more_memory_than_any_gpu_waits_with_the_reason(gpu_stack):
    task_id = gpu_stack.submit(form(epochs=1, requirements={"min_free_memory_mb": 64 * 1024}))
    task = gpu_stack.task(task_id)
    assert task["status"] == "QUEUED" and "free" in task["waiting_reason"]
    assert gpu_stack.post(f"/api/v0/tasks/{task_id}/stop").json()["status"] == "STOPPED"


def test_cpu_task_waits_for_a_cpu_worker_then_runs(gpu_stack):
    task_id = gpu_stack.submit(form(epochs=1, requirements={"device": "cpu"}))
    assert gpu_stack.task(task_id)["status"] == "QUEUED"
    gpu_stack.start_worker("cpu")
    done = gpu_stack.wait_task(task_id, timeout=60)
    assert done["status"] == "SUCCEEDED" and _worker_label(done) == "cpu"


def test_bad_requirements_are_named(gpu_stack):
    r = gpu_stack.post("/api/v0/new_task", json=form(requirements={"device": "tpu"}))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "requirements.device"
