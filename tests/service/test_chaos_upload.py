"""Issue 27 (d): the API SIGKILLed in the middle of a large dataset upload (its gunicorn worker,
or the API's whole process group, then started again) stores nothing half-way, leaves no copy of
the body behind in its temporary folder (nor held open by a live process), answers again, and
the same upload then succeeds; judged from the database and the temporary folder afterwards.

The body is sent with its Content-Length over a raw connection and held half-way: the kill lands
once the API's worker is seen spooling it (its open temporary file holds the first half), so it
lands mid-body on a machine of any speed."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import signal
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest
import requests

from tests.service.forms import small_npz
from tests.service.stack import Stack, running_stack
from tests.service.upload_memory import MIB, api_workers, multipart_file, stored_zip

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
DEADLINE = 120  # seconds: bounds a hang, not a verdict
LEFTOVER = MIB  # what the temporary folder may hold (open or not) once no upload runs


@pytest.fixture(scope="module", params=["pg-redis", "embedded"])
def api(request, tmp_path_factory):
    """The API alone (one gunicorn worker, so the one spooling the body is known), with a
    temporary folder (TMPDIR) of its own to watch."""
    tmpdir = tmp_path_factory.mktemp("api-tmp")
    env = {"TRAINYARD_GUNICORN_WORKERS": "1", "TMPDIR": str(tmpdir)}
    with running_stack(request.param, point_here=False, workers=0, reaper=False, env=env) as s:
        s.tmpdir = tmpdir
        yield s


def _rows(stack: Stack, name: str) -> list[tuple]:
    """(status, size, checksum) of every stored dataset row named ``name``."""
    sql = "SELECT status, size, checksum FROM datasets WHERE name = {}"
    if stack.kind == "pg-redis":
        url = stack.env["TRAINYARD_DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(url) as conn:
            return [tuple(r) for r in conn.execute(sql.format("%s"), (name,)).fetchall()]
    path = Path(stack.env["TRAINYARD_VAR_DIR"]) / "trainyard.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        return [tuple(r) for r in conn.execute(sql.format("?"), (name,)).fetchall()]


def _api_pids(stack: Stack) -> list[int]:
    master = stack.procs["api"].pid
    return [master, *(p.pid for p in api_workers(master))]


def _open_temp_files(stack: Stack) -> dict[str, int]:
    """Files under the API's TMPDIR that its live processes hold open (deleted ones included:
    werkzeug spools an upload to an unlinked temporary file): fd path → size."""
    held = {}
    for pid in _api_pids(stack):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                path = f"/proc/{pid}/fd/{fd}"
                with contextlib.suppress(OSError):
                    if os.readlink(path).startswith(str(stack.tmpdir)):
                        held[path] = os.stat(path).st_size
    return held


def _files_in(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def _until(what: str, check, deadline: float = DEADLINE):  # noqa: ANN001, ANN202
    end = time.monotonic() + deadline
    while not (value := check()):
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.05)
    return value


def _send_half(stack: Stack, body: Path, content_type: str) -> tuple[http.client.HTTPConnection, int]:
    """Start POSTing ``body`` (with its full Content-Length) and send its first half only."""
    size = body.stat().st_size
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    conn.putrequest("POST", "/api/v0/datasets")
    for key, value in {**stack.headers, "Content-Type": content_type, "Content-Length": str(size)}.items():
        conn.putheader(key, value)
    conn.endheaders()
    half = size // 2
    with body.open("rb") as fh:
        sent = 0
        while sent < half:
            chunk = fh.read(min(256 * 1024, half - sent))
            conn.send(chunk)
            sent += len(chunk)
    return conn, half


def _body(tmp_path: Path, kind: str, name: str) -> tuple[Path, str, dict]:
    """A multi-MB multipart upload of ``kind``: its file, Content-Type and form fields."""
    if kind == "connectome":  # 300 subjects of 90x90 float32: about 10 MB
        content = tmp_path / "big.npz"
        content.write_bytes(small_npz(n=300, r=90, seed=5))
        filename = "big.npz"
    else:  # an 8 MiB stored zip: well-formed, so the API stores it for the MXNet worker
        content, filename = stored_zip(tmp_path, "cat/1.png", 8 * MIB), "pets.zip"
    fields = {"name": name, "kind": kind}
    body, content_type = multipart_file(tmp_path, filename, content, fields)
    return body, content_type, {"content": content, "filename": filename, "fields": fields}


@pytest.mark.parametrize("victim", ["worker", "group"])
@pytest.mark.parametrize("kind", ["connectome", "image"])
def test_an_upload_killed_mid_body_leaves_nothing_and_succeeds_again(api, tmp_path, kind, victim):
    name = f"killed-{kind}-{victim}"
    body, content_type, upload = _body(tmp_path, kind, name)
    assert body.stat().st_size > 8 * MIB
    conn, half = _send_half(api, body, content_type)
    # The body is in progress: the API's worker spools it, its temporary file holds the half sent.
    _until("the API spooling the first half of the body",
           lambda: any(size >= half - MIB for size in _open_temp_files(api).values()))
    if victim == "worker":  # gunicorn's master starts another worker
        (worker,) = api_workers(api.procs["api"].pid)
        os.kill(worker.pid, signal.SIGKILL)
        _until("a new API worker", lambda: [w for w in api_workers(api.procs["api"].pid) if w.pid != worker.pid])
    else:  # the whole API, then started again as its supervisor would
        api.signal("api", signal.SIGKILL)
        api.spawn("api", "embedded" if api.kind == "embedded" else "api")
    with contextlib.suppress(OSError, http.client.HTTPException):  # the rest of the body meets a dead worker
        with body.open("rb") as fh:
            fh.seek(half)
            conn.send(fh.read())
        conn.getresponse()
    conn.close()
    api.wait_http()
    assert api.get("/api/v0/datasets").status_code == 200

    assert _rows(api, name) == [], "a dataset row was stored from half a body"
    assert not [f for f, size in _files_in(api.tmpdir).items() if size > LEFTOVER], _files_in(api.tmpdir)
    assert not [f for f, size in _open_temp_files(api).items() if size > LEFTOVER], _open_temp_files(api)

    with body.open("rb") as fh:
        r = requests.post(api.url + "/api/v0/datasets", data=fh, headers={**api.headers, "Content-Type": content_type},
                          timeout=DEADLINE)
    content = upload["content"].read_bytes()
    if kind == "connectome":
        assert r.status_code == 201, r.text
        assert _rows(api, name) == [("READY", r.json()["dataset"]["size"], r.json()["dataset"]["checksum"])]
    else:  # stored raw, for the MXNet worker to validate
        assert r.status_code == 202, r.text
        assert _rows(api, name) == [("VALIDATING", len(content), hashlib.sha256(content).hexdigest())]
    # The successful upload's spooled copy went with its request; nothing left over either.
    assert not [f for f, size in _files_in(api.tmpdir).items() if size > LEFTOVER], _files_in(api.tmpdir)
    assert not [f for f, size in _open_temp_files(api).items() if size > LEFTOVER], _open_temp_files(api)
