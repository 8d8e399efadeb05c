"""A reference server (known latency) and a way to run the real `trainyard` command."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

TRAINYARD = str(Path(sys.executable).parent / "trainyard")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RefServer:
    def __init__(self, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([TRAINYARD, "reference-server", "--port", str(self.port), *args])
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("reference server did not start")
            time.sleep(0.05)

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/_stats", timeout=10) as resp:
            return json.load(resp)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def ref_server():
    servers = []

    def start(*args: str) -> RefServer:
        servers.append(RefServer(*args))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def trainyard(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([TRAINYARD, *args], capture_output=True, text=True, timeout=timeout, **kw)


def json_lines(stdout: str) -> tuple[list[dict], dict]:
    rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert rows and rows[-1].get("summary") is True
    return rows[:-1], rows[-1]
