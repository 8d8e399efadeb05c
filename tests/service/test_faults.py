"""Faults lose no task: a killed worker, a worker told to shut down, a message delivered twice,
a burst of concurrent submissions."""

from __future__ import annotations

import io
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.service.forms import form
from tests.service.stack import Stack, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack2():
    """PostgreSQL + Redis with two workers, so one can die while the other carries on."""
    with running_stack(workers=2) as s:
        yield s


def _label_of(stack: Stack, task: dict) -> str:
    return task["worker"].split("-", 1)[0]


def _epochs(stack: Stack, task_id: str) -> list[dict]:
    return stack.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"]


def test_sigkill_mid_training_resumes_from_checkpoint(stack2):
    task_id = stack2.submit(form(epochs=40, batch_size=1))
    running = stack2.wait_task(task_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 3)
    victim = _label_of(stack2, running)
    stack2.signal(victim, signal.SIGKILL)
    done = stack2.wait_task(task_id, timeout=180)
    assert done["status"] == "SUCCEEDED", done
    assert done["attempt"] == 2
    # Epoch e is reported before its checkpoint is written, so a kill seen at epoch e may find
    # e - 1 as the newest checkpoint (a loaded machine widens that gap); never an older one.
    assert done["result"]["resumed_from_epoch"] >= running["progress"]["epoch"] - 1 >= 2
    assert _label_of(stack2, done) != victim
    assert [e["epoch"] for e in _epochs(stack2, task_id)] == list(range(1, 41))
    stack2.start_worker(victim)


def test_sigterm_hands_the_task_back_and_nothing_runs_twice(stack2):
    task_id = stack2.submit(form(epochs=40, batch_size=1))
    running = stack2.wait_task(task_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 3)
    victim = _label_of(stack2, running)
    stack2.signal(victim, signal.SIGTERM)
    # this task's line, not an earlier one's
    assert re.search(rf"task {task_id}(?: attempt \d+)?: handed back", stack2.log(victim))
    done = stack2.wait_task(task_id, timeout=180)
    assert done["status"] == "SUCCEEDED", done
    assert done["attempt"] == 1, "a graceful hand-back is not a failed attempt"
    # Epoch e is reported before its checkpoint is written, so a kill seen at epoch e may find
    # e - 1 as the newest checkpoint (a loaded machine widens that gap); never an older one.
    assert done["result"]["resumed_from_epoch"] >= running["progress"]["epoch"] - 1 >= 2
    epochs = _epochs(stack2, task_id)
    assert [e["epoch"] for e in epochs] == list(range(1, 41))
    stack2.start_worker(victim)


def test_the_same_message_twice_runs_once(stack2):
    """Checked in the database: one claim (started_at and attempt unchanged by the duplicates),
    one run (one epoch history, one finish)."""
    from tasks.publish import publish_task

    task_id = stack2.submit(form(epochs=2))
    publish_task(task_id, "torch", stack2.queue)
    publish_task(task_id, "torch", stack2.queue)
    first = stack2.wait_task(task_id)
    assert first["status"] == "SUCCEEDED"
    first_epochs = _epochs(stack2, task_id)
    _wait_deliveries_handled(stack2, task_id, 3)
    after = stack2.task(task_id)
    keys = ("status", "attempt", "worker", "started_at", "finished_at", "progress", "result")
    assert {k: after[k] for k in keys} == {k: first[k] for k in keys}
    epochs = _epochs(stack2, task_id)
    assert [(e["epoch"], e["attempt"]) for e in epochs] == [(1, 1), (2, 1)]
    assert epochs == first_epochs, "an epoch was trained again (its seconds changed)"


def _wait_deliveries_handled(stack: Stack, task_id: str, n: int, timeout: float = 120) -> None:
    """Until the workers have answered ``n`` deliveries of the task (each logs one outcome line
    for it, whatever the outcome): only a synchronisation, the verdict is the database's."""
    outcome = re.compile(rf"task {task_id}(?: attempt \d+)?: outcome: ", re.M)
    deadline = time.monotonic() + timeout
    while len(outcome.findall(stack.log("w0") + stack.log("w1"))) < n:
        assert time.monotonic() < deadline, "the duplicate deliveries were never handled:\n" + \
            "\n".join(line for line in (stack.log("w0") + stack.log("w1")).splitlines() if task_id in line)
        time.sleep(0.2)


def _tiny_dataset() -> bytes:
    rng = np.random.default_rng(3)
    conn = rng.normal(size=(24, 8, 8)).astype(np.float32)
    conn = (conn + conn.transpose(0, 2, 1)) / 2
    buf = io.BytesIO()
    np.savez(buf, conn=conn, labels=np.array(["NC", "SZ"] * 12))
    return buf.getvalue()


def test_two_hundred_concurrent_submissions_all_finish(stack2):
    r = stack2.post("/api/v0/datasets", files={"file": ("tiny.npz", _tiny_dataset())},
                    data={"name": "tiny-burst"})
    assert r.status_code == 201, r.text
    burst = form(epochs=1, proj_id="PROJ-burst", train_data=["tiny-burst"], val_data=["tiny-burst"],
                 test_data=["tiny-burst"], enable_test=False)
    with ThreadPoolExecutor(max_workers=32) as pool:
        ids = list(pool.map(lambda _: stack2.submit(burst), range(200)))
    assert len(set(ids)) == 200
    deadline = time.monotonic() + 400
    while True:
        listed = []
        cursor = None
        while True:
            params = {"proj_id": "PROJ-burst", "limit": 500, **({"cursor": cursor} if cursor else {})}
            page = stack2.get("/api/v0/tasks", params=params).json()
            listed += page["tasks"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert {t["task_id"] for t in listed} == set(ids)
        if all(t["status"] == "SUCCEEDED" for t in listed):
            break
        assert time.monotonic() < deadline, {t["status"] for t in listed}
        time.sleep(1)
