"""Task artifacts' bytes in the blob store, on file:// and on a real S3 endpoint (moto): a row names
its object and the object holds exactly the bytes; a replaced artifact's object goes once the
change commits; a rolled-back write leaves no object; the reaper deletes objects no row names
(after a grace period) and reports rows whose object is gone; ``move-blobs`` moves rows written
before the store, once, while they stay readable."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
from sqlalchemy import insert, select

from blobstore import get_store, reset_store
from contracts.settings import get_settings, reset_settings
from dao import artifact_queries, task_queries
from dao.db import session_scope
from dao.move_blobs import move_task_artifacts
from dao.tables import TaskArtifact, utcnow
from tasks.reaper import reap_once
from tests.blobstore.moto_server import moto_server
from tests.service.forms import form


@pytest.fixture(scope="module")
def moto():
    with moto_server() as server:
        yield server


@pytest.fixture(params=["file", "s3"])
def store(request, embedded_db, monkeypatch):
    if request.param == "s3":
        server = request.getfixturevalue("moto")
        bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
        server.create_bucket(bucket)
        for key, value in server.env(bucket, "trainyard").items():
            monkeypatch.setenv(key, value)
    reset_settings(), reset_store()
    yield get_store()
    reset_store()


def _task() -> str:
    with session_scope() as s:
        return task_queries.insert_new_task(
            s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN", backend="torch",
            queue="torch", form=form(), status="RUNNING")


def _row(task_id: str, kind: str) -> TaskArtifact:
    with session_scope() as s:
        return artifact_queries.get_artifact(s, task_id, kind)


def _keys(store) -> set[str]:  # noqa: ANN001
    return {info.key for info in store.iter_keys("tasks")}


def test_an_artifact_is_an_object_its_row_names(store):
    task_id, blob = _task(), b"weights" * 1000
    with session_scope() as s:
        artifact_queries.save_artifact(s, task_id, artifact_queries.WEIGHTS, blob)
    row = _row(task_id, artifact_queries.WEIGHTS)
    assert row.in_row is None and row.blob_key in _keys(store)
    assert store.get_bytes(row.blob_key) == blob
    assert (row.size, row.sha256) == (len(blob), hashlib.sha256(blob).hexdigest())
    with session_scope() as s:
        assert artifact_queries.get_model(s, task_id) == blob
        assert b"".join(artifact_queries.chunks(artifact_queries.get_artifact(s, task_id, "weights"))) == blob


def test_a_replaced_checkpoint_leaves_only_the_newest_object(store):
    task_id = _task()
    for epoch in (1, 2, 3):
        with session_scope() as s:
            artifact_queries.save_artifact(s, task_id, artifact_queries.CHECKPOINT, b"epoch %d" % epoch, epoch=epoch)
    row = _row(task_id, artifact_queries.CHECKPOINT)
    assert _keys(store) == {row.blob_key} and store.get_bytes(row.blob_key) == b"epoch 3"


def test_a_write_whose_transaction_rolls_back_leaves_no_object(store):
    task_id = _task()
    with session_scope() as s:
        artifact_queries.save_artifact(s, task_id, artifact_queries.WEIGHTS, b"kept")
    with pytest.raises(RuntimeError), session_scope() as s:
        artifact_queries.save_artifact(s, task_id, artifact_queries.WEIGHTS, b"never committed")
        raise RuntimeError("the worker failed before its commit")
    row = _row(task_id, artifact_queries.WEIGHTS)
    assert _keys(store) == {row.blob_key} and store.get_bytes(row.blob_key) == b"kept"


def test_the_reaper_deletes_old_objects_no_row_names_and_reports_rows_without_one(store):
    task_id = _task()
    with session_scope() as s:
        artifact_queries.save_artifact(s, task_id, artifact_queries.WEIGHTS, b"named")
    orphan = store.put(f"tasks/{task_id}/checkpoint/left-by-a-killed-worker", b"orphan").key
    past_grace = utcnow() + dt.timedelta(seconds=get_settings().blob_gc_grace_seconds + 60)
    young = reap_once(broker_lost=False, collect_garbage=True)
    assert young.blobs_deleted == []  # written just now: it may belong to a transaction in flight
    later = reap_once(broker_lost=False, now=past_grace, collect_garbage=True)
    assert later.blobs_deleted == [orphan] and not store.exists(orphan)
    named = _row(task_id, artifact_queries.WEIGHTS).blob_key
    assert store.exists(named) and later.blobs_missing == []
    store.delete(named)
    gone = reap_once(broker_lost=False, now=past_grace, collect_garbage=True)
    assert gone.blobs_missing == [named]


def test_move_blobs_moves_rows_written_before_the_store_once(store):
    task_id, old = _task(), b"kept in the row" * 100
    with session_scope() as s:
        s.execute(insert(TaskArtifact).values(
            task_id=task_id, kind="weights", content_type="application/octet-stream", size=len(old),
            sha256=hashlib.sha256(old).hexdigest(), in_row=old))
    with session_scope() as s:
        assert artifact_queries.get_model(s, task_id) == old  # readable before the move
    first = move_task_artifacts()
    assert (first.rows, first.bytes) == (1, len(old))
    row = _row(task_id, "weights")
    assert row.in_row is None and store.get_bytes(row.blob_key) == old
    again = move_task_artifacts()
    assert (again.rows, again.skipped) == (0, 0) and _keys(store) == {row.blob_key}
    with session_scope() as s:
        assert s.scalar(select(TaskArtifact.blob_key).where(TaskArtifact.task_id == task_id)) == row.blob_key
