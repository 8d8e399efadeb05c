"""Issue 12: a 500 MiB upload costs a real gunicorn API worker a bounded amount of memory,
whether it is refused as garbage, refused as too big (413 naming the limit, from Content-Length
or while a chunked body streams), or stored (streamed into the blob store); and what is refused
leaves no row behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
import pytest

from tests.service.stack import running_stack
from tests.service.upload_memory import MIB, api_workers, measure_upload, multipart_file, random_file, stored_zip

pytestmark = pytest.mark.slow

SIZE = 500 * MIB
BOUND = 64 * MIB  # RSS growth allowed over the worker's baseline; measured 4-20 MiB
ONE_WORKER = {"TRAINYARD_GUNICORN_WORKERS": "1"}


def _rows(stack, name: str):  # noqa: ANN001
    """(size, checksum) of the rows named ``name``, each checked against its object in the blob
    store (the stack's default: file:// under its var dir): the object's size and sha256."""
    url = stack.env["TRAINYARD_DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT size, checksum, blob_key, data IS NULL FROM datasets WHERE name = %s",
                            (name,)).fetchall()
    for size, checksum, key, no_bytes_in_row in rows:
        assert key is not None and no_bytes_in_row, (key, no_bytes_in_row)
        digest, stored = hashlib.sha256(), 0
        with (Path(stack.env["TRAINYARD_VAR_DIR"]) / "artifacts" / key).open("rb") as fh:
            for chunk in iter(lambda: fh.read(MIB), b""):
                digest.update(chunk)
                stored += len(chunk)
        assert (stored, digest.hexdigest()) == (size, checksum)
    return [(size, checksum) for size, checksum, _, _ in rows]


def _post(stack, tmp_path, filename: str, content, fields: dict, chunked: bool = False):  # noqa: ANN001
    body, content_type = multipart_file(tmp_path, filename, content, fields)
    response, rss = measure_upload(stack.url + "/api/v0/datasets", stack.headers, body, content_type,
                                   api_workers(stack.procs["api"].pid), chunked=chunked)
    print(f"{filename} {fields} chunked={chunked}: {response.status_code}, {rss}")  # shown with -s
    return response, rss


@pytest.fixture(scope="module")
def api():
    with running_stack(workers=0, reaper=False, env=ONE_WORKER) as s:
        yield s


@pytest.mark.parametrize("kind, chunked", [("connectome", False), ("image", False), ("image", True)])
def test_500_mib_of_garbage_is_refused_in_bounded_memory(api, tmp_path, kind, chunked):
    response, rss = _post(api, tmp_path, "x.npz", random_file(tmp_path, SIZE), {"kind": kind, "name": "junk"},
                          chunked=chunked)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "file"
    assert rss.growth() < BOUND, str(rss)
    assert _rows(api, "junk") == []


def test_a_500_mib_image_archive_is_stored_streamed(api, tmp_path):
    archive = stored_zip(tmp_path, "cat/1.png", SIZE)
    response, rss = _post(api, tmp_path, "pets.zip", archive, {"kind": "image", "name": "pets"})
    assert response.status_code == 202, response.text
    assert rss.growth() < BOUND, str(rss)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert response.json()["dataset"]["checksum"] == digest
    assert _rows(api, "pets") == [(archive.stat().st_size, digest)]


@pytest.fixture(scope="module")
def limited():
    with running_stack(workers=0, reaper=False, env={**ONE_WORKER, "TRAINYARD_MAX_UPLOAD_MB": "100"}) as s:
        yield s


@pytest.mark.parametrize("chunked", [False, True])
def test_500_mib_over_the_limit_is_a_413_naming_it(limited, tmp_path, chunked):
    response, rss = _post(limited, tmp_path, "x.npz", random_file(tmp_path, SIZE), {"name": "big"}, chunked=chunked)
    assert response.status_code == 413, response.text
    assert "100 MiB (TRAINYARD_MAX_UPLOAD_MB)" in response.json()["msg"]
    assert rss.growth() < BOUND, str(rss)
    assert _rows(limited, "big") == []
