"""Served models' ONNX files in the blob store, on file:// and on a real S3 endpoint (moto): an
export makes a READY row naming an object that holds exactly the file (sha256 and size on the
row) and serving predicts with it; a deleted version's object goes once the delete commits; a
rolled-back registration leaves no object; a copy (MMS ``url=onnx:``) gets an object of its own;
the reaper deletes ONNX files no row names; ``move-blobs`` moves rows written before the store,
once, and serving loads them before and after."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import insert, select

from contracts.serving_settings import ServingSettings
from contracts.settings import get_settings
from contracts.statuses import ModelStatus
from dao import artifact_queries, model_queries, task_queries
from dao.db import read, session_scope
from dao.move_blobs import move_served_models
from dao.storage_quota import used_bytes
from dao.tables import Project, ServedModel, utcnow
from serving.registry import Registry
from tasks.export_jobs import run_export
from tasks.reaper import reap_once
from tests.serving.onnx_builders import B, W, linear_model
from tests.service.forms import form
from tests.tasks.test_artifact_store import moto, store  # noqa: F401 - fixtures: file:// and moto S3

ONNX = linear_model()
SHA = hashlib.sha256(ONNX).hexdigest()
TASK_WEIGHTS = b"weights"
RECORD = {"max_abs_diff": 0.0, "tolerance": 1e-4, "n_subjects": 1, "subjects": "test"}


def _keys(store) -> set[str]:  # noqa: ANN001
    return {info.key for info in store.iter_keys("models")}


def _task() -> str:
    with session_scope() as s:
        if s.get(Project, "p") is None:
            s.add(Project(id="p", name="p"))
            s.flush()
        task_id = task_queries.insert_new_task(
            s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN", backend="torch",
            queue="torch", form=form(), status="SUCCEEDED")
        artifact_queries.save_artifact(s, task_id, artifact_queries.WEIGHTS, TASK_WEIGHTS)
    return task_id


def _exported(name: str = "m") -> int:
    """A task deployed as ``name`` and exported by the export job (its converter stubbed)."""
    task_id = _task()
    with session_scope() as s:
        model_id = model_queries.register(s, model_queries.Registration(
            name=name, version=None, source_kind="task", source_task_id=task_id, project_id="p")).id
    assert run_export(model_id, lambda session, task, blob: lambda: (ONNX, {}, RECORD)) == ModelStatus.READY.value
    return model_id


def _row(model_id: int) -> ServedModel:
    with session_scope() as s:
        return model_queries.get_by_id(s, model_id, with_onnx=True)


def _predicts(name: str) -> None:
    """A serving process's registry loads ``name`` and answers x @ W + B with it."""
    registry = Registry()
    try:
        registry.sync()
        model = registry.ready_model(name, rows=read(lambda conn: model_queries.versions_now(conn, name)))
        x = np.arange(8, dtype=np.float32).reshape(2, 4)
        got = model.predict({"x": x}, timeout=30).outputs[0]
        np.testing.assert_allclose(got, x @ W + B, rtol=1e-5)
    finally:
        registry.stop()
        for slot in registry.slots():
            if slot.model is not None:
                slot.model.unload()


def test_an_export_is_an_object_its_row_names_and_serving_predicts_with_it(store):
    model_id = _exported()
    row = _row(model_id)
    assert row.status == ModelStatus.READY.value and row.onnx is None
    assert row.onnx_key.startswith(f"models/{model_id}/") and _keys(store) == {row.onnx_key}
    assert (row.onnx_size, row.onnx_sha256) == (len(ONNX), SHA)
    assert hashlib.sha256(store.get_bytes(row.onnx_key)).hexdigest() == SHA
    with session_scope() as s:
        assert model_queries.onnx_bytes(s, model_id) == ONNX
        assert used_bytes(s, "p") == len(ONNX) + len(TASK_WEIGHTS)  # the quota counts the file and the weights
    _predicts("m")


def test_a_deleted_version_takes_its_object_and_leaves_the_others(store):
    first = _exported()
    with session_scope() as s:
        second = model_queries.register(s, model_queries.Registration(
            name="m", version=None, source_kind="upload", onnx=io.BytesIO(ONNX), contract={}, project_id="p")).id
    kept, gone = _row(first).onnx_key, _row(second).onnx_key
    assert _keys(store) == {kept, gone} and store.get_bytes(gone) == ONNX  # a file object, streamed
    with session_scope() as s:
        model_queries.delete(s, "m", _row(second).version)
    assert _keys(store) == {kept}
    with pytest.raises(RuntimeError), session_scope() as s:
        model_queries.delete(s, "m")
        raise RuntimeError("rolled back: nothing is deleted")
    assert _keys(store) == {kept}
    with session_scope() as s:
        model_queries.delete(s, "m")
    assert _keys(store) == set()


def test_a_registration_that_rolls_back_leaves_no_object(store):
    with pytest.raises(RuntimeError), session_scope() as s:
        model_queries.register(s, model_queries.Registration(
            name="up", version=None, source_kind="upload", onnx=ONNX, contract={}))
        assert len(_keys(store)) == 1
        raise RuntimeError("the request failed before its commit")
    assert _keys(store) == set()
    with session_scope() as s:
        assert model_queries.find(s, "up") is None


def test_a_copy_has_an_object_of_its_own(store):
    from app.usecases import deployments

    source_id = _exported("orig")
    with Flask(__name__).app_context(), session_scope() as s:  # the principal: auth off (admin)
        copy_id = deployments.copy_model(s, model_queries.get(s, "orig"), "copy", ServingSettings()).id
    source, copy = _row(source_id), _row(copy_id)
    assert copy.onnx_key != source.onnx_key and (copy.onnx_sha256, copy.onnx_size) == (SHA, len(ONNX))
    with session_scope() as s:
        model_queries.delete(s, "orig")
    assert _keys(store) == {copy.onnx_key} and store.get_bytes(copy.onnx_key) == ONNX
    _predicts("copy")


def test_the_reaper_deletes_onnx_files_no_row_names_and_reports_rows_without_one(store):
    model_id = _exported()
    orphan = store.put(f"models/{model_id}/left-by-a-killed-export", b"orphan").key
    past_grace = utcnow() + dt.timedelta(seconds=get_settings().blob_gc_grace_seconds + 60)
    assert orphan not in reap_once(broker_lost=False, collect_garbage=True).blobs_deleted  # young
    later = reap_once(broker_lost=False, now=past_grace, collect_garbage=True)
    assert orphan in later.blobs_deleted and not store.exists(orphan)
    named = _row(model_id).onnx_key
    assert store.exists(named) and named not in later.blobs_missing
    store.delete(named)
    assert named in reap_once(broker_lost=False, now=past_grace, collect_garbage=True).blobs_missing


def test_move_blobs_moves_models_written_before_the_store_once(store):
    _task()  # project p
    with session_scope() as s:  # a READY row as written before the store: the file in the row
        model_id = s.execute(insert(ServedModel).values(
            name="old", version="1", is_default=True, source_kind="upload", status=ModelStatus.READY.value,
            onnx=ONNX, onnx_size=len(ONNX), onnx_sha256=SHA, onnx_location="db:served_models/1", contract={},
            project_id="p", created_at=utcnow(), updated_at=utcnow())).inserted_primary_key[0]
    before = _row(model_id).updated_at
    with session_scope() as s:
        assert model_queries.onnx_bytes(s, model_id) == ONNX  # readable before the move
    _predicts("old")
    first = move_served_models()
    assert (first.rows, first.bytes, first.skipped) == (1, len(ONNX), 0)
    row = _row(model_id)
    assert row.onnx is None and _keys(store) == {row.onnx_key} and store.get_bytes(row.onnx_key) == ONNX
    assert row.updated_at == before and row.onnx_sha256 == SHA  # the same file: nothing reloads
    again = move_served_models()
    assert (again.rows, again.skipped) == (0, 0) and _keys(store) == {row.onnx_key}
    with session_scope() as s:
        assert s.scalar(select(ServedModel.onnx_key).where(ServedModel.id == model_id)) == row.onnx_key
        assert used_bytes(s, "p") == len(ONNX) + len(TASK_WEIGHTS)
    _predicts("old")
