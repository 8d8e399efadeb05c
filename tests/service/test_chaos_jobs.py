"""SIGKILL of a worker in the middle of each kind of long job loses nothing: a cross-validation
resumes at the fold it was in (the folds before keep their first attempt's epochs), a permutation
test ends with every permutation and the result an uninterrupted run gives (MXNet trainings:
test_chaos_mxnet.py); an export is sent again and the model becomes READY. The reaper
notices the lost lease; another worker takes the task."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from tests.service.forms import form
from tests.service.stack import Stack, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.chaos]


@pytest.fixture(scope="module")
def stack():
    """Two torch workers, so one can die while the other carries on."""
    with running_stack(workers=2) as s:
        yield s


def _worker(task: dict) -> str:
    return task["worker"].split("-", 1)[0]


def _epochs(stack: Stack, task_id: str) -> list[dict]:
    return stack.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"]


def _kill_running(stack: Stack, task_id: str, until) -> dict:  # noqa: ANN001 - a predicate on the task JSON
    """SIGKILL the worker running ``task_id`` once ``until(task)``; the task as it was then."""
    running = stack.wait_task(task_id, statuses={"RUNNING"}, until=until, timeout=180)
    victim = _worker(running)
    stack.signal(victim, signal.SIGKILL)
    stack.start_worker(victim)
    return running


def test_a_cross_validation_resumes_at_the_fold_it_was_in(stack):
    epochs, folds = 6, 3
    task_id = stack.submit(form(epochs=epochs, batch_size=1, cv_type="kfold", n_folds=folds))
    running = _kill_running(stack, task_id, lambda t: t["progress"]["epoch"] >= epochs + 2)
    done = stack.wait_task(task_id, timeout=240)
    assert done["status"] == "SUCCEEDED", done
    assert done["attempt"] == 2
    assert len(done["result"]["cv"]["per_fold"]) == len(done["result"]["splits"]["cv"]["folds"]) == folds
    assert done["result"]["test_n"] == 140  # every subject tested once, out of fold
    recorded = _epochs(stack, task_id)
    assert Counter(e["epoch"] for e in recorded) == Counter(range(1, epochs * folds + 1)), recorded
    first_fold = [e for e in recorded if e["epoch"] <= epochs]
    assert {e["attempt"] for e in first_fold} == {1}, "a finished fold was trained again"
    assert {e["attempt"] for e in recorded if e["epoch"] > running["progress"]["epoch"]} == {2}


def test_a_permutation_test_ends_with_every_permutation_and_the_uninterrupted_result(stack):
    body = form(epochs=2, batch_size=1, seed=7, n_permutations=12)
    killed_id, twin_id = stack.submit(body), stack.submit(body)
    # Epochs are reported for the real training only: once they are all in, the worker is
    # running the permuted trainings (or testing), and the kill lands there.
    _kill_running(stack, killed_id, lambda t: t["progress"]["epoch"] >= 2)
    killed, twin = stack.wait_task(killed_id, timeout=240), stack.wait_task(twin_id, timeout=240)
    assert killed["status"] == twin["status"] == "SUCCEEDED", (killed, twin)
    assert killed["attempt"] == 2 and twin["attempt"] == 1
    test = killed["result"]["permutation_test"]
    assert test["n_permutations"] == len(test["permutation_scores"]) == 12
    assert killed["result"]["test_accuracy"] == twin["result"]["test_accuracy"]
    assert test["permutation_scores"] == twin["result"]["permutation_test"]["permutation_scores"]
    assert test["p_value"] == twin["result"]["permutation_test"]["p_value"]


def _exporter(name: str) -> str | None:
    from sqlalchemy import select

    from dao.db import session_scope
    from dao.tables import ServedModel

    with session_scope() as session:
        return session.scalar(select(ServedModel.exporter).where(ServedModel.name == name))


def _freeze(stack: Stack, label: str, sig: int) -> None:
    os.killpg(stack.procs[label].pid, sig)


def test_an_export_whose_worker_dies_is_sent_again_and_ends_ready(stack):
    from tests.serving.harness import deploy, wait_ready

    task_id = stack.wait_task(stack.submit(form(epochs=1)))["task_id"]
    for attempt in range(3):  # an export can finish between being seen held and being frozen
        model = deploy(stack, task_id, name=f"kill-export-{attempt}")
        deadline = time.monotonic() + 120
        while (holder := _exporter(model["name"])) is None:
            assert time.monotonic() < deadline, "no worker took the export"
            time.sleep(0.01)
        victim = holder.split("-", 1)[0]
        _freeze(stack, victim, signal.SIGSTOP)
        if stack.get(f"/models/{model['name']}").json()[0]["status"] == "EXPORTING":
            break
        _freeze(stack, victim, signal.SIGCONT)
    else:
        pytest.fail("every export finished before its worker could be frozen")
    stack.signal(victim, signal.SIGKILL)
    stack.start_worker(victim)
    described = wait_ready(stack, model["name"], timeout=120)
    assert described["status"] == "READY", described
    assert "its export was lost; sent again" in stack.log("beat")
