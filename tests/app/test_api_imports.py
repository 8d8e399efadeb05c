"""The API process never imports a deep-learning framework, onnxruntime, Pillow or NVML (the
layering in docs/architecture.md): `create_app()` and a request to each kind of route, the OpenAPI
document and its page included, leave torch, torch_geometric, mxnet, onnxruntime, PIL and pynvml
out of sys.modules. The import contracts in pyproject.toml say the same statically."""

from __future__ import annotations

from tests.import_probe import heavy_modules_line

PROBE = """
import sys
from app import create_app
client = create_app().test_client()
answers = []
for path in ("/ping", "/healthz", "/api/v0/tasks", "/api/v0/datasets", "/api/v0/models", "/api/v0/gpus",
             "/gpu", "/metrics", "/api/v0/tasks/NOPE", "/v2/health/ready", "/api/v1/models", "/openapi.json",
             "/docs", "/models"):
    answers.append(client.get(path))
answers.append(client.post("/api/v0/new_task", json={"task_type": "dl_ts"}))
answers.append(client.post("/train", json={"task_id": "x", "task_desc": "{}"}))
answers.append(client.post("/api/v0/datasets", data={"file": (__import__("io").BytesIO(b"not an npz"), "x.npz")}))
print("ERRORS", [(a.request.path, a.status_code) for a in answers if a.status_code >= 500])
heavy = sorted(m for m in sys.modules
               if m.split(".")[0] in ("torch", "torch_geometric", "mxnet", "onnxruntime", "PIL", "pynvml"))
print("HEAVY", heavy)
"""


def test_create_app_and_its_routes_import_none_of_the_heavy_modules(tmp_path):
    out = heavy_modules_line(PROBE, tmp_path)
    assert "HEAVY []" in out and "ERRORS []" in out, out
