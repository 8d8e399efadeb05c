"""s3:// puts of an open file or of bytes: the parts are read from the source by the threads
that send them (blobstore.parts), never copied whole, on a real moto server."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import tracemalloc
import uuid

import pytest

from blobstore import BlobTooLarge, Stored, store_from_url

MIB = 1 << 20
SIZE = 23 * MIB + 12345  # five parts of 5 MiB, the last one short


@pytest.fixture
def s3(moto):
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    moto.create_bucket(bucket)
    store = store_from_url(f"s3://{bucket}/p", **moto.store_options(), part_size_mb=5, transfer_threads=4)
    yield store
    store.close()


@pytest.fixture(scope="module")
def blob(tmp_path_factory):
    path = tmp_path_factory.mktemp("parts") / "blob.bin"
    with path.open("wb") as out:
        for i in range(0, SIZE, MIB):
            out.write(os.urandom(min(MIB, SIZE - i)))
    return path


def _uploads(store) -> list:
    return store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])


def _head(store, key: str) -> dict:
    return store.client.head_object(Bucket=store.bucket, Key=store.prefix + key)


def _spooled(data: bytes):
    """What werkzeug hands the API for a large file part: a spooled file past its memory size."""
    spooled = tempfile.SpooledTemporaryFile(max_size=500 * 1024, mode="w+b")
    spooled.write(data)
    spooled.seek(0)
    return spooled


def _source(kind: str, data: bytes, blob, start: int):
    if kind in ("bytes", "bytearray", "memoryview"):
        return contextlib.nullcontext({"bytes": data, "bytearray": bytearray(data),
                                       "memoryview": memoryview(data)}[kind])
    fh = _spooled(data) if kind == "spooled" else blob.open("rb")
    fh.seek(start)
    return fh


@pytest.mark.parametrize("kind", ["open file", "spooled", "from an offset", "bytes", "bytearray", "memoryview"])
def test_a_large_source_goes_up_in_parts_read_from_it(s3, blob, kind) -> None:
    data = blob.read_bytes()
    start = 3 * MIB + 1 if kind == "from an offset" else 0
    with _source(kind, data, blob, start) as source:
        tracemalloc.start()
        try:
            stored = s3.put("ckpt/big", source, content_type="application/x-ckpt")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    expected = data[start:]
    assert stored == Stored("ckpt/big", len(expected), hashlib.sha256(expected).hexdigest())
    assert s3.get_bytes("ckpt/big") == expected
    head = _head(s3, "ckpt/big")
    parts = -(-len(expected) // (5 * MIB))
    assert head["ETag"].strip('"').endswith(f"-{parts}") and head["ContentType"] == "application/x-ckpt"
    # the managed upload of the same file held ~27 MiB here ((threads + 1) parts of 5 MiB and
    # their copies), of the same bytes ~2 x 23 MiB (every read copied the rest); reading parts
    # from the source holds a few 1 MiB reads and HTTP buffers
    assert peak < 8 * MIB, peak


def test_a_file_below_one_part_is_one_put(s3, tmp_path) -> None:
    path = tmp_path / "small.bin"
    path.write_bytes(b"s" * (2 * MIB))
    with path.open("rb") as fh:
        assert s3.put("small", fh).size == 2 * MIB
    assert "-" not in _head(s3, "small")["ETag"]


def test_max_bytes_refuses_a_large_file_before_uploading(s3, blob) -> None:
    with blob.open("rb") as fh, pytest.raises(BlobTooLarge):
        s3.put("too/big", fh, max_bytes=SIZE - 1)
    assert not s3.exists("too/big") and _uploads(s3) == []


class _ShrinkingFile(io.FileIO):
    """A fault that cannot be timed from outside: the file is cut to 7 MiB right after the
    store measured it (when it asks for the descriptor)."""

    def fileno(self) -> int:
        fd = super().fileno()
        os.truncate(fd, 7 * MIB)
        return fd


def test_a_file_that_shrinks_midway_leaves_no_object_and_no_upload(s3, blob, tmp_path) -> None:
    s3.put("ckpt/keep", b"old")
    copy = tmp_path / "shrinks.bin"
    copy.write_bytes(blob.read_bytes())
    with _ShrinkingFile(copy, "r+") as fh, pytest.raises(OSError, match="shrank"):
        s3.put("ckpt/keep", fh)
    assert s3.get_bytes("ckpt/keep") == b"old"  # the object that was there stays
    assert _uploads(s3) == []  # the multipart upload was aborted: no stray parts
