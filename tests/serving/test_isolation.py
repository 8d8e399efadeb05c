"""The serving role imports onnxruntime and numpy, never torch or mxnet."""

from __future__ import annotations

from tests.import_probe import heavy_modules_line

PROBE = """
import sys
from serving.app import create_serving_app
import serving.inference_paths
app = create_serving_app()
client = app.test_client()
assert client.get("/v2/health/live").status_code == 200
client.post("/predictions/none", json=[[1.0]])
from serving.loaded import new_session, providers  # a model loaded as the registry loads one
from tests.serving.onnx_builders import linear_model
new_session(linear_model(), 1, providers())
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "mxnet", "torch_geometric"))
print("HEAVY", heavy)
assert "onnxruntime" in sys.modules
"""


def test_serving_never_imports_torch_or_mxnet(tmp_path):
    out = heavy_modules_line(PROBE, tmp_path)
    assert "HEAVY []" in out, out
