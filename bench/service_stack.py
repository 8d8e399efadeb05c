"""A private trainyard stack for bench_service.py: its own PostgreSQL database, its own Redis
queue (db 14), processes started through ``start.sh`` (or gunicorn with the same config file),
on one loopback port. ``close()`` stops every process it started, drops the database and deletes
the Redis keys that appeared during the run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg
import redis
import requests

from tests.service.stack import ADMIN_TOKEN, PG_ADMIN, free_port

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = "redis://127.0.0.1:6379/14"
ARTIFACT_SETTINGS = "TRAINYARD_ARTIFACT_"  # passed through from the bench's environment


class BenchStack:
    def __init__(self, gunicorn_workers: int):
        tag = uuid.uuid4().hex[:8]
        self.tmp = Path(tempfile.mkdtemp(prefix=f"trainyard-bench-{tag}-"))
        self.db_name = f"trainyard_bench_{tag}"
        self.queue = f"bench-{tag}"
        self.baseline_key = f"bench-{tag}-baseline"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gunicorn_workers = gunicorn_workers
        self.procs: dict[str, subprocess.Popen] = {}
        self.redis = redis.Redis.from_url(REDIS_URL)
        self._keys_before: set[bytes] = set()
        self.env = self._env()

    def _env(self) -> dict[str, str]:
        # the blob store's settings (where, part size, transfer threads) are the operator's to vary
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("TRAINYARD_") or k.startswith(ARTIFACT_SETTINGS)}
        env.update(
            TRAINYARD_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.db_name}",
            TRAINYARD_BROKER_URL=REDIS_URL, TRAINYARD_TORCH_QUEUE=self.queue,
            TRAINYARD_VAR_DIR=str(self.tmp / "var"), TRAINYARD_BIND=f"127.0.0.1:{self.port}",
            TRAINYARD_GUNICORN_WORKERS=str(self.gunicorn_workers), TRAINYARD_NO_VENV="1",
            PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
            BENCH_REDIS_URL=REDIS_URL, BENCH_REDIS_KEY=self.baseline_key, TRAINYARD_ADMIN_TOKEN=ADMIN_TOKEN,
            OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="",
        )
        return env

    # -- database and broker ---------------------------------------------------------------
    def create(self) -> "BenchStack":
        self._keys_before = set(self.redis.keys("*"))
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.run_start_sh("migrate")
        from bench.baseline_app import TABLE_DDL

        with psycopg.connect(self.psycopg_url(), autocommit=True) as conn:
            conn.execute(TABLE_DDL)
        return self

    def psycopg_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.db_name}"

    def purge_queue(self) -> int:
        """Drop the messages the load phase queued (nobody consumed them); returns how many."""
        depth = int(self.redis.llen(self.queue))
        self.redis.delete(self.queue, self.baseline_key)
        return depth

    def close(self) -> None:
        for label in list(self.procs):
            self.stop(label)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        new_keys = set(self.redis.keys("*")) - self._keys_before
        if new_keys:
            self.redis.delete(*new_keys)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- processes ---------------------------------------------------------------------------
    def run_start_sh(self, *args: str) -> None:
        out = subprocess.run([str(ROOT / "start.sh"), *args], env=self.env, cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"start.sh {' '.join(args)} failed:\n{out.stdout}{out.stderr}")

    def spawn(self, label: str, argv: list[str]) -> None:
        with open(self.tmp / f"{label}.log", "ab") as log:  # the child keeps its own descriptor
            self.procs[label] = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=log,
                                                 stderr=subprocess.STDOUT, start_new_session=True)

    def start_api(self, label: str, app_spec: str | None = None) -> None:
        """``start.sh api`` for trainyard; the same gunicorn command and config for another app."""
        if app_spec is None:
            self.spawn(label, [str(ROOT / "start.sh"), "api"])
        else:
            self.spawn(label, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app_spec])
        self.wait_http(label)

    def start_worker(self, label: str = "worker") -> None:
        self.spawn(label, [str(ROOT / "start.sh"), "worker", "--name", f"{self.queue}@%h"])
        self.wait_log(label, "ready", timeout=90)

    def stop(self, label: str) -> None:
        proc = self.procs.pop(label)
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def cpu_seconds(self, label: str) -> float:
        """CPU time (user + system) of a process and all its descendants so far, counting
        children that already exited (gunicorn recycles workers after max_requests)."""
        root = psutil.Process(self.procs[label].pid)
        t = root.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in root.children(recursive=True):
            try:
                c = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += c.user + c.system
        return total

    def log(self, label: str) -> str:
        path = self.tmp / f"{label}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _alive(self, label: str) -> None:
        if self.procs[label].poll() is not None:
            raise RuntimeError(f"{label} exited:\n{self.log(label)[-3000:]}")

    def wait_log(self, label: str, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log(label):
            self._alive(label)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label} never logged {needle!r}:\n{self.log(label)[-3000:]}")
            time.sleep(0.1)

    def wait_http(self, label: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(self.url + "/ping", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):
                self._alive(label)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{label} never answered on {self.url}") from None
                time.sleep(0.1)
