"""The API process never imports a deep-learning framework (DESIGN.md's layering): `create_app()`
and a request to each kind of route leave torch, torch_geometric and mxnet out of sys.modules."""

from __future__ import annotations

from tests.import_probe import heavy_modules_line

PROBE = """
import sys
from app import create_app
client = create_app().test_client()
for path in ("/ping", "/healthz", "/api/v0/tasks", "/api/v0/datasets", "/api/v0/models", "/api/v0/gpus",
             "/gpu", "/metrics", "/api/v0/tasks/NOPE", "/v2/health/ready", "/api/v1/models"):
    client.get(path)
client.post("/api/v0/new_task", json={"task_type": "dl_ts"})
client.post("/train", json={"task_id": "x", "task_desc": "{}"})
client.post("/api/v0/datasets", data={"file": (__import__("io").BytesIO(b"not an npz"), "x.npz")})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torch_geometric", "mxnet"))
print("HEAVY", heavy)
"""


def test_create_app_and_its_routes_import_no_framework(tmp_path):
    out = heavy_modules_line(PROBE, tmp_path)
    assert "HEAVY []" in out, out
