"""A PostgreSQL cluster of a test's own (initdb, pg_ctl) on a free port, to restart or pause
without disturbing the other tests' server. Runs as the ``postgres`` user when started as root
(initdb refuses root)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil

from tests.service.stack import free_port


class PrivatePostgres:
    def __init__(self):
        # Not under pytest's tmp_path: its parents are root's alone, and the server runs as postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="trainyard-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        out = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr

    def create(self) -> "PrivatePostgres":
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self.start()

    def start(self) -> "PrivatePostgres":
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w", "start")
        return self

    def stop(self) -> None:
        """A fast shutdown: sessions are cut, nothing is lost."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def processes(self) -> list[psutil.Process]:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        root = psutil.Process(postmaster)
        return [root, *root.children(recursive=True)]

    def pause(self) -> list[psutil.Process]:
        """SIGSTOP to the server and every backend: connections hang rather than fail."""
        procs = self.processes()
        for p in procs:
            p.send_signal(signal.SIGSTOP)
        return procs

    @staticmethod
    def resume(procs: list[psutil.Process]) -> None:
        for p in procs:
            if p.is_running():
                p.send_signal(signal.SIGCONT)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.resume(self.processes())
            subprocess.run((["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) +
                           ["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"], capture_output=True,
                           timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)
