"""A training error through real processes: the task is FAILED with a readable message, and the
worker takes the next task. The error here is the race README's DELETE /datasets row
describes: a dataset removed after a task naming it was accepted and before it ran."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from tests.service.forms import form, small_npz

pytestmark = pytest.mark.slow


def _on(name: str, **changes) -> dict:
    return form(train_data=[name], val_data=[name], test_data=[name], enable_test=False, **changes)


def test_dataset_deleted_before_the_run_fails_naming_it_and_the_worker_goes_on(stack):
    from dao.db import session_scope
    from dao.tables import Dataset

    r = stack.post("/api/v0/datasets", files={"file": ("doomed.npz", small_npz(n=20, seed=5))}, data={"name": "doomed-set"})
    assert r.status_code == 201, r.text
    busy = stack.submit(form(epochs=400, batch_size=1))  # holds the only worker
    stack.wait_task(busy, statuses={"RUNNING"})
    doomed = stack.submit(_on("doomed-set", epochs=1))
    following = stack.submit(form(epochs=1, enable_test=False))
    # The API refuses this DELETE while the task is queued (409) except inside its 5 s dataset
    # cache; the row goes directly, as that race would leave it.
    with session_scope() as s:
        s.execute(delete(Dataset).where(Dataset.name == "doomed-set"))
    stack.post(f"/api/v0/tasks/{busy}/stop")

    failed = stack.wait_task(doomed)
    assert failed["status"] == "FAILED", failed
    assert failed["error"] == "dataset 'doomed-set' does not exist"
    assert failed["finished_at"] is not None and failed["worker"]
    assert stack.wait_task(following)["status"] == "SUCCEEDED", "the worker did not take the next task"
