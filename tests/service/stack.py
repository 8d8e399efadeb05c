"""A real trainyard stack for tests: migrated database, gunicorn API, Celery workers and the
reaper as separate processes started through start.sh, talked to over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis
import requests

from tests.service.template_db import create_migrated

ROOT = Path(__file__).resolve().parents[2]
MXNET_VENV = ROOT / ".venv-mxnet"
PG_HOST = "127.0.0.1:5432"
PG_ADMIN = f"postgresql://postgres@{PG_HOST}/postgres"
REDIS_URL = "redis://127.0.0.1:6379/15"
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
SUBMIT_PATHS = ("/api/v0/new_task", "/train", "/eval")
# Every stack's service admin token (TRAINYARD_ADMIN_TOKEN): tests send it as stack.headers.
ADMIN_TOKEN = "ty_test-stack-admin-0123456789abcdef"
AUTH_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LIVE: list["Stack"] = []  # started stacks of this process, cleaned after every test (conftest)

FAST_LEASES = {
    "TRAINYARD_LEASE_SECONDS": "10",  # a loaded 2-core machine can miss a few heartbeats
    "TRAINYARD_HEARTBEAT_SECONDS": "0.5",
    "TRAINYARD_REAPER_INTERVAL_SECONDS": "0.5",
    "TRAINYARD_REQUEUE_AFTER_SECONDS": "3",
    "TRAINYARD_MAX_ATTEMPTS": "3",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_stack(kind: str = "pg-redis", *, point_here: bool = True, env: dict[str, str] | None = None,
                  broker_url: str | None = None, postgres: str = PG_HOST, **start):
    """A started stack (``start`` goes to Stack.start), stopped afterwards; ``point_here``
    points this process's settings at it for direct DAO/publish calls; ``env`` overrides
    settings of every process in it; ``broker_url`` (pg-redis only) is a Redis of the test's own,
    ``postgres`` a PostgreSQL server's host:port of the test's own."""
    s = Stack(kind, env, broker_url, postgres)
    try:
        s.start(**start)
        if point_here:
            s.apply_env()
        yield s
    finally:
        s.stop()


class Stack:
    def __init__(self, kind: str, env: dict[str, str] | None = None, broker_url: str | None = None,
                 postgres: str = PG_HOST):
        """``env`` overrides settings of every process; ``broker_url`` (pg-redis only): a Redis
        of the test's own, e.g. one it stops; ``postgres``: likewise a PostgreSQL server."""
        self.kind = kind
        self.postgres = postgres
        self.pg_admin = f"postgresql://postgres@{postgres}/postgres"
        self.broker_url = broker_url or REDIS_URL
        self.tmp = Path(tempfile.mkdtemp(prefix=f"trainyard-{kind}-"))
        self.queue = f"torch-{uuid.uuid4().hex[:8]}"
        self.mx_queue = f"mxnet-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.workers: dict[str, object] = {}  # label → how to restart it (see clean_up)
        self.unfinished: set[str] = set()  # tasks submitted and not yet seen finished
        self.db_name = f"trainyard_test_{uuid.uuid4().hex[:8]}"
        self.env = self._env() | (env or {})
        self.token = self.env.get("TRAINYARD_ADMIN_TOKEN", ADMIN_TOKEN)
        self.headers = {"Authorization": f"Bearer {self.token}"}

    # -- environment -------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
        env.update(FAST_LEASES)
        env.update(
            TRAINYARD_VAR_DIR=str(self.tmp / "var"), TRAINYARD_TORCH_QUEUE=self.queue,
            TRAINYARD_MXNET_QUEUE=self.mx_queue, TRAINYARD_ADMIN_TOKEN=ADMIN_TOKEN,
            TRAINYARD_BIND=f"127.0.0.1:{self.port}", TRAINYARD_GUNICORN_WORKERS="2",
            TRAINYARD_NO_VENV="1", PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
            OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="",
        )
        if self.kind == "pg-redis":
            env["TRAINYARD_DATABASE_URL"] = f"postgresql+psycopg://postgres@{self.postgres}/{self.db_name}"
            env["TRAINYARD_BROKER_URL"] = self.broker_url
        return env

    def apply_env(self) -> None:
        """Point this test process's settings at the stack (for direct DAO/publish calls)."""
        from blobstore import reset_store
        from dao.db import reset_engines
        from contracts.settings import reset_settings
        from tasks.celery_app import reset_celery
        from tasks.dispatch import forget_fleet

        for key in [k for k in os.environ if k.startswith("TRAINYARD_") and k not in self.env]:
            del os.environ[key]  # a previous module's stack (e.g. its PostgreSQL URL)
        for key, value in self.env.items():
            if key.startswith("TRAINYARD_"):
                os.environ[key] = value
        reset_settings()
        reset_engines()
        reset_celery()
        forget_fleet()
        reset_store()

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, workers: int = 1, reaper: bool = True, mx_workers: int = 0) -> "Stack":
        LIVE.append(self)
        if self.kind == "pg-redis":
            redis.Redis.from_url(self.broker_url).delete(self.queue, self.mx_queue)
            self._migrate_postgres()
        else:
            self.run_start_sh("migrate")
        # The embedded default serves the API and the model-serving routes at one address, as
        # ./start.sh runs it (start.sh embedded); the split stack runs the API alone.
        self.spawn("api", "embedded" if self.kind == "embedded" else "api")
        for i in range(workers):
            self.start_worker(f"w{i}")
        for i in range(mx_workers):
            self.start_mx_worker(f"mx{i}")
        if reaper:
            self.spawn("beat", "beat")
        self.wait_http()
        return self

    def _migrate_postgres(self) -> None:
        """A copy of the migrated template when ``migrate`` would store the usual admin token
        (tests/service/template_db.py); ``start.sh migrate`` itself for any other auth setting."""
        if self.env.get("TRAINYARD_AUTH", "on") != "off" and self.env.get("TRAINYARD_ADMIN_TOKEN"):
            create_migrated(self.pg_admin, self.db_name, self.env)
            return
        with psycopg.connect(self.pg_admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.run_start_sh("migrate")

    def run_start_sh(self, *args: str) -> str:
        out = subprocess.run([str(ROOT / "start.sh"), *args], env=self.env, cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def spawn(self, label: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.tmp / f"{label}.log", "ab") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen([str(ROOT / "start.sh"), *args], env=env or self.env, cwd=ROOT,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[label] = proc
        return proc

    def start_worker(self, label: str, fake_gpus: list[dict] | None = None,
                     extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        """A worker named after ``label``; ``fake_gpus`` gives it GPUs through a fake NVML."""
        env, pin = dict(self.env, **(extra_env or {})), []
        if fake_gpus is not None:
            env.update(FAKE_NVML_GPUS=json.dumps(fake_gpus),
                       PYTHONPATH=f"{ROOT / 'tests' / 'fake_nvml'}:{ROOT}")
            pin = ["--gpu", "0"]
        proc = self.spawn(label, "worker", *pin, "--name", f"{label}-{self.queue}@%h", env=env)
        self.workers[label] = ("torch", fake_gpus)
        self.wait_log(label, "ready", timeout=60)
        return proc

    def start_mx_worker(self, label: str) -> subprocess.Popen:
        """``start.sh worker --backend mxnet`` on .venv-mxnet's python (TRAINYARD_NO_VENV with that
        venv first on PATH, as an image would run it)."""
        env = dict(self.env, PATH=f"{MXNET_VENV / 'bin'}:{self.env['PATH']}")
        proc = self.spawn(label, "worker", "--backend", "mxnet", "--name", f"{label}-{self.mx_queue}@%h", env=env)
        self.workers[label] = ("mxnet", None)
        self.wait_log(label, "ready", timeout=120)
        return proc

    def log(self, label: str) -> str:
        path = self.tmp / f"{label}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_log(self, label: str, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log(label):
            proc = self.procs[label]
            assert proc.poll() is None, f"{label} exited:\n{self.log(label)[-3000:]}"
            assert time.monotonic() < deadline, f"{label} never logged {needle!r}:\n{self.log(label)[-3000:]}"
            time.sleep(0.1)

    def wait_http(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(self.url + "/ping", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):
                assert self.procs["api"].poll() is None, self.log("api")[-3000:]
                assert time.monotonic() < deadline, "API never answered"
                time.sleep(0.2)

    def signal(self, label: str, sig: int) -> None:
        proc = self.procs[label]
        os.killpg(proc.pid, sig)
        proc.wait(timeout=120)

    def clean_up(self, timeout: float = 90) -> None:
        """After each test (tests/service/conftest.py): stop the tasks it left queued or running
        and restart the workers it left dead, so that a failing test cannot make the rest of
        its module wait for a busy or missing worker."""
        left = [t for t in sorted(self.unfinished) if not self._finished(t)]
        for task_id in left:
            self.post(f"/api/v0/tasks/{task_id}/stop")
        for label, (backend, fake_gpus) in self.workers.items():
            if self.procs[label].poll() is not None:
                self.start_mx_worker(label) if backend == "mxnet" else self.start_worker(label, fake_gpus)
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [t for t in left if not self._finished(t)]
        if left:  # a task a stop cannot end is a defect, not a warning
            raise AssertionError(f"tasks still unfinished {timeout:g} s after the test's clean-up stopped them: {left}")

    def _finished(self, task_id: str) -> bool:
        """True (and forgotten) once the task is finished or gone; False while it runs or
        while the API does not answer."""
        try:
            r = self.get(f"/api/v0/tasks/{task_id}")
            done = r.status_code == 404 or (r.status_code == 200 and r.json()["status"] in TERMINAL)
        except (requests.RequestException, ValueError, KeyError):
            return False
        if done:
            self.unfinished.discard(task_id)
        return done

    def stop(self) -> None:
        if self in LIVE:
            LIVE.remove(self)
        for label, proc in self.procs.items():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(proc.pid, signal.SIGKILL)
        if self.kind == "pg-redis":
            from dao.db import reset_engines

            reset_engines()
            with contextlib.suppress(psycopg.OperationalError), \
                    psycopg.connect(self.pg_admin, autocommit=True, connect_timeout=5) as conn:  # a test's own may be gone
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            with contextlib.suppress(redis.RedisError):  # a test's own Redis may be gone
                redis.Redis.from_url(self.broker_url).delete(self.queue, self.mx_queue,
                                                             f"trainyard.broker-marker.{self.queue}")
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- HTTP ----------------------------------------------------------------------------
    def authed(self, kw: dict) -> dict:
        """``kw`` with the admin's token added to its headers (a test's own headers win)."""
        return {**kw, "headers": {**self.headers, **(kw.get("headers") or {})}}

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, **{"timeout": 30, **self.authed(kw)})

    def put(self, path: str, **kw) -> requests.Response:
        return requests.put(self.url + path, **{"timeout": 60, **self.authed(kw)})

    def patch(self, path: str, **kw) -> requests.Response:
        return requests.patch(self.url + path, **{"timeout": 30, **self.authed(kw)})

    def delete(self, path: str, **kw) -> requests.Response:
        return requests.delete(self.url + path, **{"timeout": 30, **self.authed(kw)})

    def request(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, self.url + path, **{"timeout": 60, **self.authed(kw)})

    def post(self, path: str, **kw) -> requests.Response:
        r = requests.post(self.url + path, **{"timeout": 60, **self.authed(kw)})
        if path in SUBMIT_PATHS and r.ok:
            with contextlib.suppress(ValueError, AttributeError):
                body = r.json()
                task_id = (body.get("task_form") or {}).get("task_id") or body.get("task_id")
                if task_id:
                    self.unfinished.add(task_id)
        return r

    def task(self, task_id: str) -> dict:
        r = self.get(f"/api/v0/tasks/{task_id}", params={"view": "full"})
        assert r.status_code == 200, r.text
        return r.json()

    def wait_task(self, task_id: str, statuses=TERMINAL, timeout: float = 120,
                  until=None) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            task = self.task(task_id)
            if task["status"] in statuses and (until is None or until(task)):
                return task
            assert time.monotonic() < deadline, f"task stuck: {task}\n" + \
                "\n".join(f"== {k}\n{self.log(k)[-2000:]}" for k in self.procs)
            time.sleep(0.05)

    def submit(self, form: dict) -> str:
        r = self.post("/api/v0/new_task", json=form)
        assert r.status_code == 201, r.text
        return r.json()["task_form"]["task_id"]
