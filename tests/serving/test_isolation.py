"""The serving role imports onnxruntime and numpy, never torch or mxnet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from serving.app import create_serving_app
import serving.embedded
app = create_serving_app()
client = app.test_client()
assert client.get("/v2/health/live").status_code == 200
client.post("/predictions/none", json=[[1.0]])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "mxnet", "torch_geometric"))
print("HEAVY", heavy)
assert "onnxruntime" in sys.modules
"""


def test_serving_never_imports_torch_or_mxnet(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env["TRAINYARD_VAR_DIR"] = str(tmp_path)
    env["TRAINYARD_AUTH"] = "off"  # the probe goes down the prediction path, not to the 401
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HEAVY []" in out.stdout, out.stdout
