"""The client package imports nothing of the server, and `pip install 'trainyard[client]'` installs
and runs it without torch, onnxruntime, Flask or SQLAlchemy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fresh_venv import venv_with

ROOT = Path(__file__).resolve().parents[2]
SERVER_SIDE = {"app", "dao", "tasks", "models", "serving", "webcommon", "embedded", "flask", "sqlalchemy", "torch",
               "torch_geometric", "mxnet", "onnxruntime"}
# what client/ imports from outside the standard library -> its distribution in pyproject
CLIENT_DISTS = {"click": "click", "rich": "rich", "aiohttp": "aiohttp", "httptools": "httptools",
                "hdrh": "hdrhistogram", "yaml": "pyyaml", "uvloop": "uvloop", "requests": "requests"}
OPTIONAL = {"mlperf_loadgen", "playwright"}


def _client_extra() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["client"]


def _client_imports() -> set[str]:
    found = set()
    for path in (ROOT / "client").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_client_imports_nothing_of_the_server_and_only_its_declared_dependencies():
    imports = _client_imports()
    assert not imports & SERVER_SIDE
    third_party = imports - set(sys.stdlib_module_names) - {"client", "contracts"} - OPTIONAL  # contracts: the shared core
    assert third_party <= set(CLIENT_DISTS), third_party - set(CLIENT_DISTS)
    declared = " ".join(_client_extra())
    for dist in CLIENT_DISTS.values():
        assert f"{dist}>=" in declared, f"{dist} is not in pyproject.toml's client extra"


@pytest.mark.slow
def test_the_client_extra_installs_and_runs_without_torch_onnxruntime_or_flask(tmp_path):
    env_dir = venv_with(tmp_path, f"{ROOT}[client]")  # the package as a user installs the client
    py = env_dir / "bin" / "python"
    for server_side in ("torch", "onnxruntime", "flask", "sqlalchemy"):
        absent = subprocess.run([str(py), "-c", f"import {server_side}"], capture_output=True, text=True)
        assert absent.returncode != 0 and f"No module named '{server_side}'" in absent.stderr
    port = _free_port()
    server = subprocess.Popen([str(env_dir / "bin" / "trainyard"), "reference-server", "--port", str(port),
                               "--delay-ms", "2", "--jitter-ms", "1"])
    try:
        out = subprocess.run([str(env_dir / "bin" / "trainyard"), "loadgen", f"http://127.0.0.1:{port}/",
                              "--rate", "20", "--duration", "1", "--json"], capture_output=True, text=True,
                             timeout=120)
        for _ in range(50):  # the server may still be starting: the loadgen refuses an unreachable URL
            if out.returncode != 1:
                break
            subprocess.run([sys.executable, "-c", "import time; time.sleep(0.2)"])
            out = subprocess.run([str(env_dir / "bin" / "trainyard"), "loadgen", f"http://127.0.0.1:{port}/",
                                  "--rate", "20", "--duration", "1", "--json"], capture_output=True, text=True,
                                 timeout=120)
        assert out.returncode == 0, out.stderr
        assert '"summary": true' in out.stdout.splitlines()[-1]
    finally:
        server.terminate()
        server.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
