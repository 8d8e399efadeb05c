"""``dao.blobs.local_file``: what a worker loads datasets and checkpoints from in place. On file:// the
store's own file, read-only and left as it was; on s3:// (a real moto server) a temporary file
streamed from the store, which has no name and is closed (so gone) once the block ends, even when
it raises; a row's own bytes as a BytesIO."""

from __future__ import annotations

import io
import os
import tempfile
import uuid

import pytest

from blobstore import BlobNotFound, get_store, reset_store
from blobstore.file import FileStore
from contracts.settings import reset_settings
from dao import blobs

MIB = 1 << 20
BLOB = os.urandom(3 * MIB + 123)  # more than one chunk of the copy


@pytest.fixture()
def scratch(tmp_path, monkeypatch):
    """The directory temporary files go to in this test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _configured(monkeypatch, var, env: dict[str, str]):  # noqa: ANN001, ANN202 - the store
    for key in [k for k in os.environ if k.startswith("TRAINYARD_")]:
        monkeypatch.delenv(key)
    for key, value in {"TRAINYARD_VAR_DIR": str(var), **env}.items():
        monkeypatch.setenv(key, value)
    reset_settings(), reset_store()
    return get_store()


@pytest.fixture()
def file_store(tmp_path, monkeypatch, scratch):
    yield _configured(monkeypatch, tmp_path / "var", {})
    reset_store(), reset_settings()


@pytest.fixture()
def s3_store(tmp_path, monkeypatch, scratch, moto):
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    moto.create_bucket(bucket)
    yield _configured(monkeypatch, tmp_path / "var", moto.env(bucket, "local"))
    reset_store(), reset_settings()


@pytest.fixture(params=["file_store", "s3_store"])
def store(request):
    return request.getfixturevalue(request.param)


def _put(store) -> str:  # noqa: ANN001
    return store.put(f"datasets/t/{uuid.uuid4().hex}", BLOB).key


def test_a_local_file_holds_the_object_and_seeks(store):
    key = _put(store)
    with blobs.local_file(key, None) as fh:
        assert fh.seekable() and fh.tell() == 0
        assert fh.read() == BLOB
        fh.seek(10)
        assert fh.read(5) == BLOB[10:15]
    assert fh.closed
    assert store.get_bytes(key) == BLOB


def test_file_store_gives_its_own_file_read_only_and_leaves_it_untouched(file_store, scratch):
    store = file_store
    assert isinstance(store, FileStore)
    key = _put(store)
    path = store.root.joinpath(*key.split("/"))
    before = os.stat(path)
    with blobs.local_file(key, None) as fh:
        assert os.path.samefile(fh.name, path) and fh.mode == "rb"
        with pytest.raises(io.UnsupportedOperation):
            fh.write(b"x")
        fh.read()
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert path.read_bytes() == BLOB
    assert list(scratch.iterdir()) == []  # no copy was made


def test_s3_streams_into_a_nameless_temporary_file_gone_after_the_block(s3_store, scratch):
    store = s3_store
    key = _put(store)
    with blobs.local_file(key, None) as fh:
        assert os.fstat(fh.fileno()).st_nlink == 0  # no name anywhere: closing it frees it
        assert fh.read() == BLOB
    assert fh.closed
    assert list(scratch.iterdir()) == []


def test_the_temporary_file_goes_when_the_block_raises(store, scratch):
    key = _put(store)
    with pytest.raises(RuntimeError, match="loader failed"):
        with blobs.local_file(key, None) as fh:
            raise RuntimeError("loader failed")
    assert fh.closed
    assert list(scratch.iterdir()) == []
    assert store.get_bytes(key) == BLOB


def test_a_missing_object_raises_blob_not_found(store, scratch):
    with pytest.raises(BlobNotFound):
        with blobs.local_file("datasets/t/missing", None):
            pass
    assert list(scratch.iterdir()) == []


def test_a_row_keeping_its_bytes_gives_them_as_a_file(scratch):
    with blobs.local_file(None, b"in the row") as fh:
        assert fh.seekable() and fh.read() == b"in the row"
    with blobs.local_file(None, None) as nothing:
        assert nothing is None
    assert list(scratch.iterdir()) == []
