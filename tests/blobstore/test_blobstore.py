"""The blob store's contract, the same suite on file:// (under tmp_path) and s3:// (a real
moto server, tests/blobstore/moto_server.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import tracemalloc
import urllib.request
import uuid

import pytest

from blobstore import (BlobInfo, BlobNotFound, BlobTooLarge, InvalidKey, Stored, get_store, reset_store,
                       store_from_url)
from blobstore.file import FileStore
from contracts.settings import reset_settings

MIB = 1 << 20


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        yield store_from_url((tmp_path / "artifacts").as_uri())
        return
    moto = request.getfixturevalue("moto")
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    moto.create_bucket(bucket)
    s3 = store_from_url(f"s3://{bucket}/some/prefix", **moto.store_options(), part_size_mb=5,
                        transfer_threads=2)
    yield s3
    s3.close()


def _chunks(total: int, chunk: int = MIB, seed: int = 0):
    """Deterministic pseudo-random chunks (incompressible, cheap to make)."""
    block = hashlib.sha256(str(seed).encode()).digest() * (chunk // 32)
    for i in range(0, total, chunk):
        yield (i.to_bytes(8, "big") + block)[: min(chunk, total - i)]


def _stream_sha(stream, chunk: int = MIB) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with stream:
        while data := stream.read(chunk):
            digest.update(data)
            size += len(data)
    return size, digest.hexdigest()


def _no_leftovers(store, key: str) -> None:
    """Nothing of a failed put: no object, no temporary file, no open multipart upload."""
    assert not store.exists(key)
    assert key not in [info.key for info in store.iter_keys()]
    if isinstance(store, FileStore):
        names = [n for _, dirs, files in os.walk(store.root) for n in files]
        assert not [n for n in names if n.startswith(".tmp-")], names
    else:
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        assert uploads == []


def test_put_get_open_exists_delete(store) -> None:
    data = b"weights" * 1000
    stored = store.put("tasks/1/weights.pt", data, content_type="application/octet-stream")
    assert stored == Stored("tasks/1/weights.pt", len(data), hashlib.sha256(data).hexdigest())
    assert store.exists("tasks/1/weights.pt")
    assert not store.exists("tasks/1/other.pt")
    assert store.get_bytes("tasks/1/weights.pt") == data
    with store.open("tasks/1/weights.pt") as stream:
        assert stream.read(7) == b"weights"
        assert stream.read() == data[7:]
    store.put("tasks/1/weights.pt", b"new")  # replaces
    assert store.get_bytes("tasks/1/weights.pt") == b"new"
    store.delete("tasks/1/weights.pt")
    assert not store.exists("tasks/1/weights.pt")
    store.delete("tasks/1/weights.pt")  # missing: fine
    store.delete("never/was")
    with pytest.raises(BlobNotFound):
        store.open("tasks/1/weights.pt")
    with pytest.raises(FileNotFoundError):  # BlobNotFound is one
        store.get_bytes("tasks/1/weights.pt")


def test_empty_object(store) -> None:
    assert store.put("empty", b"") == Stored("empty", 0, hashlib.sha256(b"").hexdigest())
    assert store.exists("empty") and store.get_bytes("empty") == b""


@pytest.mark.parametrize("kind", ["bytearray", "memoryview", "bytesio", "file", "iterator", "list"])
def test_put_sources(store, kind, tmp_path) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB
    chunks = [data[:1000], b"", data[1000:700_000], b"", data[700_000:]]
    source = {
        "bytearray": lambda: bytearray(data),
        "memoryview": lambda: memoryview(data),
        "bytesio": lambda: io.BytesIO(data),
        "iterator": lambda: iter(chunks),
        "list": lambda: chunks,
    }.get(kind)
    if kind == "file":
        (tmp_path / "src.bin").write_bytes(data)
        with open(tmp_path / "src.bin", "rb") as fh:
            stored = store.put("src.bin", fh)
    else:
        stored = store.put("src.bin", source())
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    assert store.get_bytes("src.bin") == data


def test_put_refuses_text(store) -> None:
    with pytest.raises(TypeError):
        store.put("text", "not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.put("text", iter(["not bytes"]))  # type: ignore[list-item]
    assert not store.exists("text")


def test_iter_keys(store) -> None:
    keys = ["a-b", "a/b", "a0", "tasks/1/ckpt-0001", "tasks/1/ckpt-0002", "tasks/1/weights", "tasks/12/x",
            "tasks/2/weights"]
    for i, key in enumerate(reversed(keys)):
        store.put(key, b"x" * (i + 1))
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    listed = list(store.iter_keys())
    assert [info.key for info in listed] == sorted(keys) == keys  # S3's order: by key
    for info in listed:
        assert isinstance(info, BlobInfo)
        key, size, modified = info  # a plain tuple too
        assert size == len(keys) - keys.index(key)
        assert modified.tzinfo is not None and modified > before
    assert [i.key for i in store.iter_keys("tasks/1/")] == ["tasks/1/ckpt-0001", "tasks/1/ckpt-0002", "tasks/1/weights"]
    assert [i.key for i in store.iter_keys("tasks/1/ckpt-")] == ["tasks/1/ckpt-0001", "tasks/1/ckpt-0002"]
    assert [i.key for i in store.iter_keys("tasks/1")] == ["tasks/1/ckpt-0001", "tasks/1/ckpt-0002",
                                                          "tasks/1/weights", "tasks/12/x"]
    assert [i.key for i in store.iter_keys("nothing/")] == []
    assert [i.key for i in store.iter_keys("a")] == ["a-b", "a/b", "a0"]


def test_a_30mb_put_streams_from_a_generator(store, request) -> None:
    if not isinstance(store, FileStore):  # one part in flight at a time: memory is easy to bound
        store = store_from_url(f"s3://{store.bucket}/{store.prefix}", **request.getfixturevalue("moto").store_options(),
                               part_size_mb=5, transfer_threads=1)
    total = 30 * MIB
    expected = hashlib.sha256()
    produced = 0

    def generate():
        nonlocal produced
        for chunk in _chunks(total, chunk=256 * 1024, seed=30):
            expected.update(chunk)
            produced += len(chunk)
            yield chunk

    tracemalloc.start()
    try:
        stored = store.put("datasets/big.npz", generate(), content_type="application/zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert produced == total
    assert stored == Stored("datasets/big.npz", total, expected.hexdigest())
    # never the whole object in memory: the file store copies 1 MiB at a time; s3 holds about
    # (transfer_threads + 1) parts of 5 MiB (measured with one thread: 7.4 MiB for 30 and 60 MiB
    # objects; 18 MiB with two, 28 MiB with four)
    assert peak < (4 * MIB if isinstance(store, FileStore) else 13 * MIB), peak
    assert _stream_sha(store.open("datasets/big.npz")) == (total, expected.hexdigest())
    if not isinstance(store, FileStore):
        head = store.client.head_object(Bucket=store.bucket, Key=store.prefix + "datasets/big.npz")
        assert head["ETag"].strip('"').endswith("-6")  # a multipart upload of six 5 MiB parts
        assert head["ContentType"] == "application/zip"
        assert head["ContentLength"] == total


def test_a_large_bytes_put_never_copies_the_whole(store) -> None:
    data = os.urandom(30 * MIB)
    tracemalloc.start()
    try:
        stored = store.put("weights/big", data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored == Stored("weights/big", len(data), hashlib.sha256(data).hexdigest())
    # a copy of what was left after each read made this ~60 MiB (and quadratic in time)
    assert peak < 8 * MIB, peak
    assert store.get_bytes("weights/big") == data


@pytest.mark.parametrize("fail_after_mb", [1, 12])  # a single PUT, and midway through a multipart upload
def test_an_interrupted_put_leaves_no_object(store, fail_after_mb) -> None:
    store.put("ckpt/keep", b"old")

    def failing():
        yield from _chunks(fail_after_mb * MIB)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.put("ckpt/new", failing())
    _no_leftovers(store, "ckpt/new")
    with pytest.raises(ConnectionResetError):
        store.put("ckpt/keep", failing())  # over an existing object: it stays as it was
    assert store.get_bytes("ckpt/keep") == b"old"
    _no_leftovers(store, "ckpt/nothing")


def test_a_reader_raising_midway_leaves_no_object(store) -> None:
    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buf) -> int:
            if self.sent >= 11 * MIB:
                raise OSError("disk read error")
            n = min(len(buf), 256 * 1024)
            buf[:n] = b"z" * n
            self.sent += n
            return n

    with pytest.raises(OSError, match="disk read error"):
        store.put("upload/partial", Failing())
    _no_leftovers(store, "upload/partial")


def test_max_bytes(store) -> None:
    with pytest.raises(BlobTooLarge):
        store.put("big", _chunks(12 * MIB), max_bytes=11 * MIB)
    _no_leftovers(store, "big")
    assert store.put("fits", b"12345", max_bytes=5).size == 5


BAD_KEYS = ["", "/abs", "../up", "a/../../up", "a/..", "./a", "a/./b", "a//b", "a/", ".hidden", "a/.tmp-x",
            "back\\slash", "sp ace", "new\nline", "quote'", "é", "a" * 513, "a:b", "%2e%2e", "a" * 201, "x/" + "a" * 201]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused(store, key) -> None:
    for call in (lambda: store.put(key, b"x"), lambda: store.open(key), lambda: store.get_bytes(key),
                 lambda: store.exists(key), lambda: store.delete(key), lambda: store.presigned_url(key, 60)):
        with pytest.raises(InvalidKey):
            call()
    assert [i.key for i in store.iter_keys()] == []


def test_good_keys_and_prefixes(store) -> None:
    for key in ["a", "A-z_0.9", "tasks/123/ckpt-0007.params", "-x/_y/z..z", "d" * 200, "/".join(["a" * 200, "b" * 200, "c" * 110])]:
        store.put(key, b"k")
        assert store.get_bytes(key) == b"k"
    for prefix in ["/", "../", "a//", ".", "a/.b", "a b"]:
        with pytest.raises(InvalidKey):
            list(store.iter_keys(prefix))


def test_the_file_store_skips_temporary_files(tmp_path) -> None:
    store = store_from_url(tmp_path.as_uri())
    store.put("d/real", b"1")
    (tmp_path / "d" / ".tmp-real.123").write_bytes(b"in flight")
    (tmp_path / ".tmp-top.1").write_bytes(b"in flight")
    assert [i.key for i in store.iter_keys()] == ["d/real"]


def test_presigned_url(store) -> None:
    store.put("models/m.onnx", b"onnx bytes")
    url = store.presigned_url("models/m.onnx", seconds=60)
    if isinstance(store, FileStore):
        assert url is None
    else:
        assert url.startswith(store.client.meta.endpoint_url) and "Signature" in url
        with urllib.request.urlopen(url, timeout=10) as response:  # no credentials
            assert response.read() == b"onnx bytes"
    for seconds in (0, -1, 8 * 24 * 3600):
        with pytest.raises(ValueError):
            store.presigned_url("models/m.onnx", seconds=seconds)


def test_a_presigned_url_answers_with_the_name_and_type_asked(store) -> None:
    store.put("tasks/t/weights", b"weights")
    disposition = 'attachment; filename="T1-weights.safetensors"'
    url = store.presigned_url("tasks/t/weights", 60, content_type="application/x-weights", disposition=disposition)
    if isinstance(store, FileStore):
        assert url is None
        return
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"weights"
        assert response.headers["Content-Disposition"] == disposition
        assert response.headers["Content-Type"] == "application/x-weights"


def test_store_urls(tmp_path) -> None:
    assert isinstance(store_from_url(f"file://localhost{tmp_path}/x"), FileStore)
    for url in ["", "http://host/x", "file://relative/x", "file:relative", "s3://", "s3:///prefix",
                f"file://{tmp_path}?q=1", "s3://bucket/../x", "gs://bucket"]:
        with pytest.raises(ValueError):
            store_from_url(url)


@pytest.fixture
def clean_settings(monkeypatch):
    for name in list(os.environ):
        if name.startswith("TRAINYARD_ARTIFACT"):
            monkeypatch.delenv(name)
    reset_settings()
    reset_store()
    yield monkeypatch
    reset_settings()
    reset_store()


def test_get_store_defaults_to_var_dir(clean_settings, tmp_path) -> None:
    clean_settings.setenv("TRAINYARD_VAR_DIR", str(tmp_path / "var"))
    reset_settings()
    store = get_store()
    assert isinstance(store, FileStore) and store.root == (tmp_path / "var" / "artifacts").resolve()
    assert get_store() is store  # cached per process
    reset_store()
    assert get_store() is not store


def test_get_store_s3_from_settings(clean_settings, moto, tmp_path) -> None:
    moto.create_bucket("configured")
    clean_settings.setenv("TRAINYARD_VAR_DIR", str(tmp_path / "var"))
    for name, value in moto.env("configured", "trainyard").items():
        clean_settings.setenv(name, value)
    clean_settings.setenv("TRAINYARD_ARTIFACT_S3_SECRET_ACCESS_KEY", "s3cr3t-value")  # moto takes any
    reset_settings()
    store = get_store()
    assert store.put("k", b"v").size == 1
    assert moto.client().get_object(Bucket="configured", Key="trainyard/k")["Body"].read() == b"v"
    assert "s3cr3t" not in repr(store) and "s3cr3t" not in store.url
    from contracts.settings import get_settings

    assert "s3cr3t" not in repr(get_settings())  # a SecretStr


def test_a_forked_child_builds_its_own_store(clean_settings, tmp_path) -> None:
    clean_settings.setenv("TRAINYARD_VAR_DIR", str(tmp_path / "var"))
    reset_settings()
    parent = get_store()  # held, so a child's new store cannot reuse its id
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether its store is the parent's object
        try:
            os.write(write, b"same" if get_store() is parent else b"own")
        finally:
            os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 16) == b"own"
    finally:
        os.close(read)
        os.waitpid(pid, 0)


def test_the_file_store_does_not_import_boto3(tmp_path) -> None:
    import subprocess
    import sys

    probe = ("import sys; from blobstore import store_from_url; "
             f"store_from_url({tmp_path.as_uri()!r}).put('k', b'v'); print('boto3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.strip() == "False", out.stderr[-2000:]
