"""Datasets' bytes in the blob store, on file:// and on a real S3 endpoint (moto), through the API
in this process on PostgreSQL: an upload is an object its row names, of the row's size and
checksum; an upload refused, or whose transaction rolls back, leaves no object; the MXNet
worker's READY replaces the uploaded object, REJECTED keeps none; a delete removes it; the
reaper deletes dataset objects no row names; ``move-blobs`` moves rows written before the store,
once, while they stay readable."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
import zipfile

import numpy as np
import pytest
from sqlalchemy import func, insert, select
from urllib3 import encode_multipart_formdata

from blobstore import get_store
from contracts.settings import get_settings
from contracts.statuses import DatasetStatus
from dao import dataset_queries
from dao.db import session_scope
from dao.move_blobs import move_datasets
from dao.tables import Dataset, utcnow
from tests.app.inprocess import in_process_api
from tests.blobstore.moto_server import moto_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def moto():
    with moto_server() as server:
        yield server


@pytest.fixture(scope="module", params=["file", "s3"])
def api(request):
    env = {}
    if request.param == "s3":
        server = request.getfixturevalue("moto")
        bucket = f"datasets-{uuid.uuid4().hex[:8]}"
        server.create_bucket(bucket)
        env = server.env(bucket, "trainyard")
    with in_process_api(env) as api:
        yield api


@pytest.fixture()
def store(api):
    api.stack.apply_env()  # this module's settings (another module's stack may have moved them)
    return get_store()


def _npz(n: int = 12, r: int = 6, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    conn = rng.normal(size=(n, r, r)).astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, conn=(conn + conn.transpose(0, 2, 1)) / 2, labels=np.array(["NC", "SZ"] * (n // 2)))
    return buf.getvalue()


def _image_zip(size: int = 3 << 20) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("cat/1.png", np.random.default_rng(1).bytes(size))
    return buf.getvalue()


def _keys(store) -> set[str]:  # noqa: ANN001
    return {info.key for info in store.iter_keys("datasets")}


def _row(name: str) -> Dataset | None:
    with session_scope() as s:
        return s.scalars(select(Dataset).where(Dataset.name == name)
                         .execution_options(populate_existing=True)).first()


def _upload_image(api, name: str, blob: bytes):  # noqa: ANN001, ANN202
    """The multipart body as bytes (the test client would spool a large one to a file it never
    closes); the API spools the part to its own temporary file over 500 KiB."""
    body, content_type = encode_multipart_formdata(
        {"kind": "image", "name": name, "file": ("pets.zip", blob, "application/zip")})
    return api.post("/api/v0/datasets", data=body, content_type=content_type)


def test_a_connectome_upload_is_an_object_of_the_rows_size(api, store):
    blob = _npz()
    r = api.post("/api/v0/datasets", data={"name": "conn-1", "file": (io.BytesIO(blob), "conn.npz")},
                 content_type="multipart/form-data")
    assert r.status_code == 201, r.text
    row = _row("conn-1")
    assert row.blob_key.startswith("datasets/conn-1/") and row.blob_key in _keys(store)
    stored = store.get_bytes(row.blob_key)
    assert row.size == len(stored) == r.json["dataset"]["size"]
    with session_scope() as s:
        assert dataset_queries.get_data(s, "conn-1") == stored
        assert b"".join(dataset_queries.chunks(s, "conn-1")) == stored
        assert s.scalar(select(Dataset.in_row).where(Dataset.name == "conn-1")) is None


def test_an_image_upload_is_streamed_into_the_store(api, store):
    blob = _image_zip()
    r = _upload_image(api, "pets-1", blob)
    assert r.status_code == 202, r.text
    row = _row("pets-1")
    assert (row.size, row.checksum) == (len(blob), hashlib.sha256(blob).hexdigest())
    assert r.json["dataset"]["checksum"] == row.checksum and store.get_bytes(row.blob_key) == blob


def test_a_refused_upload_leaves_no_object(api, store):
    before = _keys(store)
    r = api.post("/api/v0/datasets", data={"name": "junk", "file": (io.BytesIO(b"\x00garbage" * 1000), "x.npz")},
                 content_type="multipart/form-data")
    assert r.status_code == 422, r.text
    r = _upload_image(api, "junk", b"not a zip" * 1000)
    assert r.status_code == 422, r.text
    assert _row("junk") is None and _keys(store) == before


def test_a_duplicate_name_stores_nothing(api, store):
    assert _upload_image(api, "twice", _image_zip(1 << 16)).status_code == 202
    before = _keys(store)
    assert _upload_image(api, "twice", _image_zip(1 << 16)).status_code == 409
    assert _keys(store) == before


def test_an_insert_whose_transaction_rolls_back_leaves_no_object(api, store):
    before = _keys(store)
    with pytest.raises(RuntimeError), session_scope() as s:
        dataset_queries.insert_dataset_file(s, "rolled", "image", {}, io.BytesIO(b"x" * 5000), 5000)
        assert len(_keys(store)) == len(before) + 1  # written before its row commits
        raise RuntimeError("the request failed before its commit")
    assert _row("rolled") is None and _keys(store) == before


def test_an_odd_name_gets_a_valid_key(api, store):
    name = "odd name/../é"
    with session_scope() as s:
        dataset_queries.insert_dataset(s, name, "connectome", {}, b"odd bytes")
    row = _row(name)
    assert row.blob_key.startswith("datasets/odd_name_") and store.get_bytes(row.blob_key) == b"odd bytes"
    with session_scope() as s:
        dataset_queries.delete_dataset(s, name)
    assert not store.exists(row.blob_key)


def test_validation_ready_replaces_the_uploaded_object(api, store, monkeypatch):
    from tasks import image_imports

    uploaded = _image_zip(1 << 16)
    assert _upload_image(api, "pets-ready", uploaded).status_code == 202
    old = _row("pets-ready").blob_key
    canonical = b"the canonical npz" * 100
    monkeypatch.setattr(image_imports, "_convert", lambda blob, meta: (
        canonical if blob == uploaded else b"wrong", {"checksum": "content-sum", "classes": ["cat"]}))
    assert image_imports.import_images("pets-ready") == DatasetStatus.READY.value
    row = _row("pets-ready")
    assert not store.exists(old) and row.blob_key != old and store.get_bytes(row.blob_key) == canonical
    assert (row.size, row.checksum, row.status) == (len(canonical), "content-sum", "READY")
    assert [k for k in _keys(store) if k.startswith("datasets/pets-ready/")] == [row.blob_key]


def test_validation_rejected_keeps_no_object(api, store, monkeypatch):
    from models.datasets.types import DatasetImportError
    from tasks import image_imports

    assert _upload_image(api, "pets-bad", _image_zip(1 << 16)).status_code == 202
    old = _row("pets-bad").blob_key

    def refuse(blob, meta):  # noqa: ANN001, ANN202
        raise DatasetImportError(["not images"])

    monkeypatch.setattr(image_imports, "_convert", refuse)
    assert image_imports.import_images("pets-bad") == DatasetStatus.REJECTED.value
    row = _row("pets-bad")
    assert not store.exists(old) and row.blob_key is None and row.size == 0
    assert api.get("/api/v0/datasets/pets-bad").json["problems"] == ["not images"]


def test_delete_removes_the_object(api, store):
    assert _upload_image(api, "pets-gone", _image_zip(1 << 16)).status_code == 202
    key = _row("pets-gone").blob_key
    assert api.request("DELETE", "/api/v0/datasets/pets-gone").status_code == 200
    assert not store.exists(key) and _row("pets-gone") is None


def test_the_reaper_deletes_dataset_objects_no_row_names(api, store):
    from tasks.reaper import reap_once

    assert _upload_image(api, "pets-kept", _image_zip(1 << 16)).status_code == 202
    named = _row("pets-kept").blob_key
    orphan = store.put("datasets/pets-killed/left-by-a-killed-upload", b"orphan").key
    past_grace = utcnow() + dt.timedelta(seconds=get_settings().blob_gc_grace_seconds + 60)
    assert orphan not in reap_once(broker_lost=False, collect_garbage=True).blobs_deleted  # young
    later = reap_once(broker_lost=False, now=past_grace, collect_garbage=True)
    assert orphan in later.blobs_deleted and not store.exists(orphan) and store.exists(named)
    assert named not in later.blobs_missing
    store.delete(named)
    assert named in reap_once(broker_lost=False, now=past_grace, collect_garbage=True).blobs_missing
    with session_scope() as s:
        dataset_queries.delete_dataset(s, "pets-kept")


def test_move_datasets_moves_rows_written_before_the_store_once(api, store):
    old = _npz(seed=7)
    with session_scope() as s:
        s.execute(insert(Dataset).values(
            name="pre-store", kind="connectome", status="READY", meta={"checksum": "content"}, size=len(old),
            checksum="content", in_row=old))
        s.execute(insert(Dataset).values(  # rejected before the store: no bytes worth moving
            name="pre-store-rejected", kind="image", status="REJECTED", meta={}, size=0, checksum="x", in_row=b""))
    with session_scope() as s:
        assert dataset_queries.get_data(s, "pre-store") == old  # readable before the move
        assert dataset_queries.chunks(s, "pre-store") == old
        # the test database's own demo datasets are kept in their rows too (tests/service/template_db.py)
        in_rows = s.execute(select(func.count(), func.sum(Dataset.size)).where(
            Dataset.blob_key.is_(None), Dataset.status != "REJECTED")).one()
    first = move_datasets()
    assert (first.rows, first.bytes, first.skipped) == (in_rows[0], in_rows[1], 0)
    row = _row("pre-store")
    assert store.get_bytes(row.blob_key) == old and row.size == len(old)
    assert row.checksum == "content"
    with session_scope() as s:
        assert dataset_queries.get_data(s, "pre-store") == old  # and after
        assert s.scalar(select(Dataset.in_row).where(Dataset.name == "pre-store")) is None
    again = move_datasets()
    assert (again.rows, again.skipped) == (0, 0) and _row("pre-store").blob_key == row.blob_key
    assert _row("pre-store-rejected").blob_key is None
