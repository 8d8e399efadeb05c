"""Each role's extra is enough to run it: `pip install 'trainyard[api]'` alone builds the API and
answers its document, and brings no deep-learning framework, onnxruntime, Pillow or NVML."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.fresh_venv import venv_with

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import importlib.util
from app import create_app
client = create_app().test_client()
assert client.get("/ping").status_code == 200
assert client.get("/openapi.json").status_code == 200
print("INSTALLED", sorted(m for m in ("torch", "mxnet", "onnxruntime", "PIL", "pynvml", "sklearn")
                           if importlib.util.find_spec(m)))
"""


@pytest.mark.slow
def test_the_api_extra_runs_the_api_without_the_heavy_packages(tmp_path):
    py = venv_with(tmp_path, f"{ROOT}[api]") / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env.update(TRAINYARD_AUTH="off", TRAINYARD_VAR_DIR=str(tmp_path / "var"))
    out = subprocess.run([str(py), "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "INSTALLED []" in out.stdout, out.stdout
