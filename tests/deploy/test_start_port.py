"""``start.sh`` checks the API's address before it starts anything: taken, it says so, names what
holds it (when ``ss`` can see it) and exits non-zero, whether the address came from
TRAINYARD_BIND or PORT, for the API alone and for the whole stack."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def taken_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("role", [["api"], []])
@pytest.mark.parametrize("how", ["TRAINYARD_BIND", "PORT"])
def test_a_taken_port_is_named_and_start_fails(tmp_path, taken_port, role, how):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_") and k != "PORT"}
    env["TRAINYARD_VAR_DIR"] = str(tmp_path)
    env[how] = f"127.0.0.1:{taken_port}" if how == "TRAINYARD_BIND" else str(taken_port)
    r = subprocess.run([str(ROOT / "start.sh"), *role], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert f"cannot listen on 127.0.0.1:{taken_port}: the address is in use" in r.stderr
    if shutil.which("ss"):
        assert f"pid={os.getpid()}" in r.stderr  # this test process holds it
    assert "API on" not in r.stdout and not any(tmp_path.iterdir())  # nothing was started or written
