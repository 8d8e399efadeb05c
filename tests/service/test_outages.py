"""Outages through real processes. The broker is a redis-server of this module's own (on a free
port, so stopping it disturbs nobody); the database outage is PostgreSQL refusing connections
to this stack's database (ALLOW_CONNECTIONS false, its sessions terminated).

README: with the broker unreachable a task is still accepted (201, the message says so) and the
reaper publishes it when the broker is back; /healthz answers 503 when the database or the
broker is down; a database that is away is a 503 on the API; an image upload whose MXNet queue
is unreachable answers 503 and keeps nothing.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tempfile
import time
import zipfile

import psycopg
import pytest
import redis

from tests.service.forms import form
from tests.service.stack import PG_ADMIN, free_port, running_stack

pytestmark = pytest.mark.slow


class OwnRedis:
    """A throwaway redis-server on a free loopback port that a test may stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="trainyard-redis-")
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def own_redis():
    r = OwnRedis()
    r.start()
    yield r
    r.close()


@pytest.fixture(scope="module")
def ostack(own_redis):
    with running_stack(workers=1, broker_url=own_redis.url) as s:
        yield s


@pytest.fixture()
def broker_down(own_redis):
    """The broker stopped for the test's first part; started again whatever happens."""
    own_redis.stop()
    yield own_redis
    if own_redis.proc.poll() is not None:
        own_redis.start()


@pytest.fixture()
def database_refusing(ostack):
    """This stack's database refuses connections until the test ends (or calls the result)."""
    def set_allowed(allowed: bool) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{ostack.db_name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
            if not allowed:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", [ostack.db_name])

    set_allowed(False)
    try:
        yield lambda: set_allowed(True)
    finally:
        set_allowed(True)


def test_broker_down_task_accepted_then_run_when_it_returns(ostack, broker_down):
    health = ostack.get("/healthz")
    assert health.status_code == 503, health.text
    assert health.json()["checks"] == {"database": "ok", "broker": "unreachable"}

    r = ostack.post("/api/v0/new_task", json=form(epochs=1, enable_test=False))
    assert r.status_code == 201, r.text
    assert r.json()["error_num"] == 0 and "queue is unreachable" in r.json()["msg"]
    task_id = r.json()["task_form"]["task_id"]
    assert ostack.task(task_id)["status"] == "QUEUED"

    broker_down.start()
    assert ostack.get("/healthz").status_code == 200
    done = ostack.wait_task(task_id, timeout=120)
    assert done["status"] == "SUCCEEDED", done
    assert done["attempt"] == 1


def _tiny_zip() -> bytes:
    """An archive the API lets through (the MXNet worker would read its images)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("cat/a.png", b"not decoded by the API")
    return buf.getvalue()


def test_image_upload_with_the_mxnet_queue_away_is_503_and_keeps_nothing(ostack, broker_down):
    r = ostack.post("/api/v0/datasets", files={"file": ("pics.zip", _tiny_zip())},
                    data={"kind": "image", "name": "pics-outage"})
    assert r.status_code == 503, r.text
    assert r.json()["error_num"] == 503 and "MXNet queue is unreachable" in r.json()["msg"]
    assert ostack.get("/api/v0/datasets/pics-outage").status_code == 404


def test_database_down_is_a_503_everywhere_and_healthz_says_which(ostack, database_refusing):
    health = ostack.get("/healthz")
    assert health.status_code == 503, health.text
    assert health.json()["checks"]["database"] == "unreachable"
    for method, path, kw in (
        ("get", "/api/v0/tasks/TASK_ANY", {}),
        ("get", "/api/v0/tasks", {}),
        ("get", "/api/v0/datasets", {}),
        ("post", "/api/v0/new_task", {"json": form(epochs=1)}),
        ("post", "/api/v0/tasks/TASK_ANY/stop", {}),
    ):
        r = getattr(ostack, method)(path, **kw)
        assert r.status_code == 503, (path, r.status_code, r.text)
        assert r.json()["error_num"] == 503 and "database" in r.json()["msg"], r.text
        assert "Traceback" not in r.text

    database_refusing()  # back
    assert ostack.get("/healthz").status_code == 200
    assert ostack.get("/api/v0/tasks").status_code == 200
