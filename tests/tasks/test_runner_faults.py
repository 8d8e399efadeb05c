"""The runner's failure paths, in this process, against a real (SQLite) database, the real
torch backend and the real reaper. Each fault is caused for real at a chosen epoch, just before
the runner stores that epoch: the reaper gives the task to another worker, a table the worker
writes to disappears, or the training raises.

README, "The task's life": a worker that lost its lease writes nothing more; a database error in
the middle of training leaves the task to the reaper; a training error marks the task FAILED
with a readable message and the worker takes the next task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select, text, update

from dao import artifact_queries, dataset_queries, task_queries
from dao.db import get_engine, session_scope
from contracts.settings import get_settings
from dao.tables import Task, TaskArtifact, TaskEpoch, utcnow
from models.datasets.metadata import describe
from models.datasets.synthetic import synthetic_aal90
from tasks.reaper import reap_once
from tasks.runner import execute
from tasks.torch_backend import TORCH
from tests.service.forms import form

pytestmark = pytest.mark.slow
DATA = "tiny-runner"
EPOCHS = 3


class FaultAt:
    """The runner's hooks, with ``fault`` (a context manager) around the on_epoch of one epoch."""

    def __init__(self, inner, epoch: int, fault):  # noqa: ANN001
        self.inner, self.epoch, self.fault = inner, epoch, fault

    def on_epoch(self, metrics) -> None:  # noqa: ANN001
        if metrics.epoch != self.epoch:
            return self.inner.on_epoch(metrics)
        with self.fault():
            return self.inner.on_epoch(metrics)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def faulty_torch(epoch: int, fault):  # noqa: ANN001
    return dataclasses.replace(TORCH, run=lambda spec, hooks, device: TORCH.run(spec, FaultAt(hooks, epoch, fault), device))


@pytest.fixture()
def queued(embedded_db):
    """A function that inserts a QUEUED 3-epoch SGN task on a tiny registered dataset."""
    ds = synthetic_aal90(30, seed=0, n_regions=10, n_pairs=3, n_modules=3)
    with session_scope() as s:
        dataset_queries.insert_dataset(s, DATA, "connectome", describe(ds), ds.to_npz_bytes())

    def make() -> str:
        f = form(epochs=EPOCHS, batch_size=10, train_data=[DATA], val_data=[DATA], test_data=[DATA],
                 enable_test=False)
        with session_scope() as s:
            return task_queries.insert_new_task(
                s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN",
                backend="torch", queue=get_settings().torch_queue, form=f, status="QUEUED",
                attempt=1, epochs_total=EPOCHS, epochs_done=0, published_at=utcnow())
    return make


def row(task_id: str) -> Task:
    with session_scope() as s:
        return task_queries.get_task(s, task_id)


def epochs(task_id: str) -> list[tuple[int, int]]:
    """(epoch, attempt) of every stored epoch."""
    with session_scope() as s:
        return [(e.epoch, e.attempt) for e in s.scalars(
            select(TaskEpoch).where(TaskEpoch.task_id == task_id).order_by(TaskEpoch.epoch))]


def artifacts(task_id: str) -> dict[str, int | None]:
    with session_scope() as s:
        return {a.kind: a.epoch for a in s.scalars(select(TaskArtifact).where(TaskArtifact.task_id == task_id))}


@pytest.mark.parametrize("at", [2, EPOCHS], ids=["mid-training", "last-epoch"])
def test_a_worker_that_lost_its_lease_writes_nothing_more(queued, at):
    task_id = queued()

    @contextlib.contextmanager
    def reaped_and_taken():
        # The worker looks dead to the reaper (no heartbeat for an hour) and another claims it.
        with session_scope() as s:
            s.execute(update(Task).where(Task.id == task_id)
                      .values(heartbeat_at=utcnow() - dt.timedelta(hours=1)))
        assert reap_once().requeued == [task_id]
        with session_scope() as s:
            assert task_queries.claim_task(s, task_id, "thief@test", "cpu")
        yield

    outcome = execute(task_id, "victim@test", faulty_torch(at, reaped_and_taken))

    assert outcome == "lost"
    assert epochs(task_id) == [(e, 1) for e in range(1, at)], "the old owner stored an epoch"
    stored = artifacts(task_id)
    assert stored[artifact_queries.CHECKPOINT] == at - 1 and stored["checkpoint_best"] <= at - 1
    assert set(stored) == {artifact_queries.CHECKPOINT, "checkpoint_best"}, "weights of a task not ours"
    task = row(task_id)
    assert (task.status, task.worker, task.attempt) == ("RUNNING", "thief@test", 2)
    assert task.result is None and task.error is None and task.finished_at is None
    assert task.epochs_done == at - 1


def test_a_database_error_mid_training_leaves_the_task_to_the_reaper(queued):
    task_id = queued()

    @contextlib.contextmanager
    def epochs_table_away():
        with get_engine().begin() as conn:
            conn.execute(text("ALTER TABLE task_epochs RENAME TO task_epochs_away"))
        try:
            yield
        finally:
            with get_engine().begin() as conn:
                conn.execute(text("ALTER TABLE task_epochs_away RENAME TO task_epochs"))

    assert execute(task_id, "w1@test", faulty_torch(2, epochs_table_away)) == "abandoned"
    task = row(task_id)
    assert (task.status, task.worker, task.error) == ("RUNNING", "w1@test", None), \
        "a database error must not fail the task"
    assert epochs(task_id) == [(1, 1)]

    # Once its lease expires, the reaper requeues it, and the next worker resumes after epoch 1.
    expired = get_settings().model_copy(update={"lease_seconds": 0.0})
    assert reap_once(expired).requeued == [task_id]
    assert (row(task_id).status, row(task_id).attempt) == ("QUEUED", 2)
    assert execute(task_id, "w2@test", TORCH) == "SUCCEEDED"
    done = row(task_id)
    assert done.status == "SUCCEEDED" and done.result["resumed_from_epoch"] == 1
    assert epochs(task_id) == [(1, 1), (2, 2), (3, 2)]


def test_a_training_error_fails_the_task_readably_and_the_worker_goes_on(queued):
    failing, following = queued(), queued()

    @contextlib.contextmanager
    def out_of_memory():
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield  # pragma: no cover

    assert execute(failing, "w@test", faulty_torch(2, out_of_memory)) == "failed"
    task = row(failing)
    assert task.status == "FAILED" and task.finished_at is not None
    assert task.error == "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert epochs(failing) == [(1, 1)]
    # The same worker process takes the next task and finishes it.
    assert execute(following, "w@test", TORCH) == "SUCCEEDED"
    assert epochs(following) == [(1, 1), (2, 1), (3, 1)]
