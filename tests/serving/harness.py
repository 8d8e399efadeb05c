"""A stack with a trained, deployed SGN model and a serving process (``start.sh serve``) beside
it, plus the torch engine's own answers to compare served predictions with."""

from __future__ import annotations

import time

import numpy as np
import requests

from tests.service.forms import form
from tests.service.stack import Stack, free_port

FAST_SERVING = {"TRAINYARD_SERVE_POLL_SECONDS": "0.2", "TRAINYARD_SERVE_HEARTBEAT_SECONDS": "0.5",
                "TRAINYARD_SERVE_WORKERS": "1", "TRAINYARD_SERVE_THREADS": "8"}


class Serving:
    """A serving process of a stack, on its own port."""

    def __init__(self, stack: Stack, label: str = "serve"):
        self.stack, self.label = stack, label
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(stack.env, TRAINYARD_SERVE_BIND=f"127.0.0.1:{self.port}", **FAST_SERVING)

    def start(self) -> "Serving":
        self.stack.spawn(self.label, "serve", env=self.env)
        self.wait(lambda: self.get("/v2/health/live").status_code == 200, "never answered")
        return self

    def wait(self, check, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if check():
                    return
            except requests.ConnectionError:
                assert self.stack.procs[self.label].poll() is None, self.stack.log(self.label)[-3000:]
            assert time.monotonic() < deadline, f"serving {what}:\n{self.stack.log(self.label)[-3000:]}"
            time.sleep(0.1)

    def wait_model(self, name: str, version: str | None = None) -> None:
        path = f"/v2/models/{name}" + (f"/versions/{version}" if version else "") + "/ready"
        self.wait(lambda: self.get(path).status_code == 200, f"never loaded {name}")

    @property
    def headers(self) -> dict[str, str]:
        return self.stack.headers

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, **{"timeout": 60, **self.stack.authed(kw)})

    def post(self, path: str, **kw) -> requests.Response:
        return requests.post(self.url + path, **{"timeout": 60, **self.stack.authed(kw)})

    def request(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, self.url + path, **{"timeout": 60, **self.stack.authed(kw)})


def train_task(stack: Stack, **changes) -> str:
    task_id = stack.submit(form(epochs=2, batch_size=20, **changes))
    done = stack.wait_task(task_id, timeout=300)
    assert done["status"] == "SUCCEEDED", done
    return task_id


def deploy(stack: Stack, task_id: str, **body) -> dict:
    r = stack.post(f"/api/v0/tasks/{task_id}/deploy", json=body)
    assert r.status_code == 202, r.text
    return r.json()["model"]


def wait_ready(stack: Stack, name: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = stack.get(f"/models/{name}").json()[0]
        if described["status"] != "EXPORTING":
            return described
        assert time.monotonic() < deadline, stack.log("w0")[-3000:]
        time.sleep(0.2)


def engine_probabilities(stack: Stack, task_id: str, ds) -> np.ndarray:
    """The torch engine's class probabilities for ``ds`` with the task's published weights."""
    from models.onnx_export import engine_probabilities as engine

    blob = stack.get(f"/api/v0/tasks/{task_id}/model").content
    return engine(blob, ds)


def fresh_subjects(n: int = 6, seed: int = 11):
    """Subjects the model never saw (a new draw of the demo's generator)."""
    from models.datasets.synthetic import synthetic_aal90

    return synthetic_aal90(n_subjects=n, seed=seed)
