"""A Python client for trainyard's HTTP API (no server code, no torch).

    from client.api import Client
    c = Client()                      # TRAINYARD_URL / TRAINYARD_TOKEN, else ~/.config/trainyard/profile.json
    task_id = c.submit(form)          # a dict, or Client.load_form("form.yaml")
    final = c.wait(task_id)           # the task once it is SUCCEEDED, FAILED or STOPPED

Errors raise ApiError carrying the status, the message and the API's field errors. Idempotent
calls (GET, DELETE, stop) are retried with backoff on 503 and on a lost connection; a submit or an
upload is never retried, so it can never create a task or a dataset twice.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import requests
import yaml

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
PROFILE = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "trainyard" / "profile.json"


@dataclass
class ApiError(Exception):
    status: int
    msg: str
    errors: list[dict] = field(default_factory=list)  # [{"field": ..., "problem": ...}]

    def __str__(self) -> str:
        lines = [f"HTTP {self.status}: {self.msg}"]
        lines += [f"  {e.get('field')}: {e.get('problem')}" for e in self.errors]
        return "\n".join(lines)


class Unreachable(Exception):
    """The API did not answer (after the retries an idempotent call is allowed)."""


def _profile() -> dict:
    try:
        return json.loads(PROFILE.read_text())
    except (OSError, ValueError):
        return {}


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, retries: int = 5,
                 backoff: float = 0.5, timeout: float = 30.0):
        prof = _profile()
        self.url = (url or os.environ.get("TRAINYARD_URL") or prof.get("url") or "http://127.0.0.1:8000").rstrip("/")
        self.token = token or os.environ.get("TRAINYARD_TOKEN") or prof.get("token")
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.http = requests.Session()
        if self.token:
            self.http.headers["Authorization"] = f"Bearer {self.token}"

    # -- transport ----------------------------------------------------------------------
    def _call(self, method: str, path: str, *, idempotent: bool, raw: bool = False, **kw) -> Any:
        attempts = self.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            try:
                resp = self.http.request(method, self.url + path, timeout=self.timeout, **kw)
            except requests.ConnectionError as exc:
                if attempt + 1 == attempts:
                    raise Unreachable(f"{self.url} did not answer: {exc}") from None
            else:
                if resp.status_code != 503 or attempt + 1 == attempts:
                    return self._result(resp, raw)
            time.sleep(self.backoff * 2 ** attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _result(resp: requests.Response, raw: bool) -> Any:
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {"msg": resp.text[:500]}
            raise ApiError(resp.status_code, body.get("msg", ""), body.get("errors", []))
        return resp.content if raw else resp.json()

    def _get(self, path: str, **kw) -> Any:
        return self._call("GET", path, idempotent=True, **kw)

    # -- tasks --------------------------------------------------------------------------
    @staticmethod
    def load_form(path: str) -> dict:
        """A task form from a JSON or YAML file."""
        return yaml.safe_load(Path(path).read_text())

    def submit(self, form: dict | None = None, **fields) -> str:
        """Posts a task form (a dict and/or keyword fields); returns the new task's id."""
        body = {**(form or {}), **fields}
        return self._call("POST", "/api/v0/new_task", idempotent=False, json=body)["task_form"]["task_id"]

    def task(self, task_id: str) -> dict:
        return self._get(f"/api/v0/tasks/{task_id}")

    def epochs(self, task_id: str) -> list[dict]:
        return self._get(f"/api/v0/tasks/{task_id}/epochs")["epochs"]

    def tasks(self, limit: int | None = None, **filters) -> Iterator[dict]:
        """Tasks newest first (or by ``sort``), following the API's cursor across pages."""
        params = {k: v for k, v in filters.items() if v is not None}
        seen = 0
        while True:
            page = self._get("/api/v0/tasks", params=params)
            for task in page["tasks"]:
                yield task
                seen += 1
                if limit is not None and seen >= limit:
                    return
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def stop(self, task_id: str) -> dict:
        return self._call("POST", f"/api/v0/tasks/{task_id}/stop", idempotent=True)

    def wait(self, task_id: str, poll: float = 1.0, timeout: float | None = None) -> dict:
        """Polls until the task is SUCCEEDED, FAILED or STOPPED; returns it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            task = self.task(task_id)
            if task["status"] in TERMINAL:
                return task
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} is still {task['status']} after {timeout} s")
            time.sleep(poll)

    def download_model(self, task_id: str, dest: str, kind: str | None = None) -> Path:
        params = {"kind": kind} if kind else None
        return self._save(self._get(f"/api/v0/tasks/{task_id}/model", params=params, raw=True), dest)

    def download_plot(self, task_id: str, name: str, dest: str) -> Path:
        return self._save(self._get(f"/api/v0/tasks/{task_id}/plots/{name}.png", raw=True), dest)

    @staticmethod
    def _save(data: bytes, dest: str) -> Path:
        path = Path(dest)
        path.write_bytes(data)
        return path

    # -- datasets, workers, MXServer -----------------------------------------------------------
    def upload_dataset(self, path: str, name: str | None = None, kind: str | None = None) -> dict:
        data = {k: v for k, v in (("name", name), ("kind", kind)) if v}
        with open(path, "rb") as fh:
            return self._call("POST", "/api/v0/datasets", idempotent=False, files={"file": fh}, data=data)

    def datasets(self) -> list[dict]:
        return self._get("/api/v0/datasets")["datasets"]

    def dataset(self, name: str) -> dict:
        return self._get(f"/api/v0/datasets/{name}")

    def delete_dataset(self, name: str) -> dict:
        return self._call("DELETE", f"/api/v0/datasets/{name}", idempotent=True)

    def gpus(self) -> list[dict]:
        return self._get("/api/v0/gpus")["workers"]

    def mx_train(self, body: dict) -> dict:
        return self._call("POST", "/train", idempotent=False, json=body)

    def mx_eval(self, body: dict) -> dict:
        return self._call("POST", "/eval", idempotent=False, json=body)

    def mx_stop(self, task_id: str) -> dict:
        return self._call("POST", "/stop", idempotent=True, json={"task_id": task_id})
