"""A Python client for trainyard's HTTP API (no server code, no torch).

    from client.api import Client
    c = Client()                      # TRAINYARD_URL / TRAINYARD_TOKEN, else ~/.config/trainyard/profile.json
    task_id = c.submit(form)          # a dict, or Client.load_form("form.yaml")
    final = c.wait(task_id)           # the task once it is SUCCEEDED, FAILED or STOPPED
    for line in c.follow_logs(task_id): print(line["message"])

Errors raise ApiError carrying the status, the message and the API's field errors. Idempotent
calls (GET, DELETE, stop) are retried with backoff on 503 and on a lost connection; a submit or an
upload is never retried, so it can never create a task or a dataset twice.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import requests
import yaml

from contracts.selection import DEFAULT_SORT
from contracts.statuses import TaskStatus

from client import sse, sweep
from client.predictions import as_csv as predictions_csv
from client.upload import Progress, ProgressBody

TERMINAL = tuple(s.value for s in TaskStatus.terminal())
# What a lost connection looks like: refused, reset, timed out, or cut in the middle of a body.
LOST = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
DOWNLOADS = ("model", "best", "plots", "predictions")
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
    def _call(self, method: str, path: str, *, idempotent: bool, raw: bool = False, response: bool = False,
              **kw) -> Any:
        attempts = self.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            try:
                resp = self.http.request(method, self.url + path, timeout=self.timeout, **kw)
            except LOST as exc:
                if attempt + 1 == attempts:
                    raise Unreachable(f"{self.url} did not answer: {exc}") from None
            else:
                if resp.status_code != 503 or attempt + 1 == attempts:
                    result = self._result(resp, raw)
                    return resp if response else result
            time.sleep(self.backoff * 2 ** attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _result(resp: requests.Response, raw: bool) -> Any:
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {"msg": resp.text[:500]}
            if not isinstance(body, dict):
                body = {"msg": str(body)[:500]}
            # trainyard's envelope says msg; MMS's message; KServe's error
            msg = body.get("msg") or body.get("message") or body.get("error") or ""
            raise ApiError(resp.status_code, str(msg), body.get("errors") or [])
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

    def task(self, task_id: str, full: bool = False) -> dict:
        """The light poll view, or with ``full`` the whole task (form, result, ...)."""
        return self._get(f"/api/v0/tasks/{task_id}", params={"view": "full"} if full else None)

    def compare(self, task_ids: list[str]) -> list[dict]:
        """The full view of each task, in the order given (see client.compare for the table)."""
        return [self.task(t, full=True) for t in task_ids]

    def paired_comparison(self, task_ids: list[str]) -> dict:
        """GET /api/v0/compare: each task's metrics with their intervals, and every pair's paired
        tests on the subjects both were tested on (or why the pair has none)."""
        return self._get("/api/v0/compare", params={"ids": ",".join(task_ids)})

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
        """The weights (``kind="best_weights"``: the lowest-validation-loss epoch's) to ``dest``."""
        params = {"kind": kind} if kind else None
        return self._save(self._get(f"/api/v0/tasks/{task_id}/model", params=params, raw=True), dest)

    def download_plot(self, task_id: str, name: str, dest: str) -> Path:
        return self._save(self._get(f"/api/v0/tasks/{task_id}/plots/{name}.png", raw=True), dest)

    def predictions(self, task_id: str, which: str = "test") -> list[dict]:
        """Per-subject test predictions (``which="test_best"``: of the best-validation weights)."""
        result = self.task(task_id, full=True).get("result") or {}
        return list((result.get(which) or {}).get("predictions") or [])

    def download_predictions(self, task_id: str, dest: str) -> Path:
        """The per-subject test predictions as CSV (client.predictions). Raises ApiError
        404 when the task has none."""
        text = predictions_csv(self.task(task_id, full=True).get("result") or {})
        if text is None:
            raise ApiError(404, f"task {task_id!r} has no per-subject test predictions")
        return self._save(text.encode(), dest)

    def download(self, task_id: str, dest_dir: str = ".", what: tuple[str, ...] = DOWNLOADS) -> dict[str, Path | str]:
        """Each of ``what`` (model, best, plots, predictions) into ``dest_dir``; returns, per item,
        its path or why it is not there (a task without best weights, ...). Raises ApiError 404
        when the task does not exist."""
        self.task(task_id)  # 404 for a task that is not there, before any file
        folder = Path(dest_dir)
        folder.mkdir(parents=True, exist_ok=True)
        jobs = {"model": lambda: self._save_named(task_id, folder, None),
                "best": lambda: self._save_named(task_id, folder, "best_weights"),
                "curves": lambda: self.download_plot(task_id, "curves", str(folder / f"{task_id}-curves.png")),
                "confusion": lambda: self.download_plot(task_id, "confusion", str(folder / f"{task_id}-confusion.png")),
                "predictions": lambda: self.download_predictions(task_id, str(folder / f"{task_id}-predictions.csv"))}
        wanted = [k for k in jobs if k in what or (k in ("curves", "confusion") and "plots" in what)]
        done: dict[str, Path | str] = {}
        for item in wanted:
            try:
                done[item] = jobs[item]()
            except ApiError as exc:
                if exc.status != 404:
                    raise
                done[item] = exc.msg or "not found"
        return done

    def _save_named(self, task_id: str, folder: Path, kind: str | None) -> Path:
        params = {"kind": kind} if kind else None
        resp = self._call("GET", f"/api/v0/tasks/{task_id}/model", idempotent=True, params=params, raw=True,
                          response=True)
        match = re.search(r'filename="([^"/\\]+)"', resp.headers.get("Content-Disposition", ""))
        name = match.group(1) if match else f"{task_id}-{kind or 'weights'}.bin"
        return self._save(resp.content, str(folder / name))

    @staticmethod
    def _save(data: bytes, dest: str) -> Path:
        path = Path(dest)
        path.write_bytes(data)
        return path

    # -- logs ---------------------------------------------------------------------------
    def logs(self, task_id: str, cursor: int = 0, limit: int = 200, attempt: int | None = None) -> dict:
        """One page of the task's log after ``cursor``: {"lines", "next_cursor", "done", "status"}."""
        params = {"cursor": cursor, "limit": limit, **({"attempt": attempt} if attempt else {})}
        return self._get(f"/api/v0/tasks/{task_id}/logs", params=params)

    def all_logs(self, task_id: str, attempt: int | None = None, cursor: int = 0) -> Iterator[dict]:
        """Every line logged so far after ``cursor``, page after page."""
        while True:
            page = self.logs(task_id, cursor, 1000, attempt)
            yield from page["lines"]
            if len(page["lines"]) < 1000:
                return
            cursor = page["next_cursor"]

    def follow_logs(self, task_id: str, cursor: int = 0, attempt: int | None = None,
                    give_up_after: float = 300.0) -> Iterator[dict]:
        """Each line from ``cursor`` on, live, until the task has ended and every line was read.

        A stream that ends at the server's time limit, or a connection lost (the API restarting),
        is resumed from the last line received, so no line is lost or repeated. Raises
        Unreachable when the API has not answered for ``give_up_after`` seconds, ApiError 404
        for an unknown task."""
        away_since = None
        while True:
            params = {"follow": 1, "cursor": cursor, **({"attempt": attempt} if attempt else {})}
            try:
                with self.http.get(f"{self.url}/api/v0/tasks/{task_id}/logs", params=params, stream=True,
                                   timeout=(10, 60), headers={"Accept": "text/event-stream"}) as resp:
                    if resp.status_code == 204:
                        return
                    if resp.status_code != 503:
                        if resp.status_code >= 400:
                            self._result(resp, raw=True)
                        away_since = None
                        for event in sse.events(resp):
                            if event.event == "line":
                                line = event.json()
                                cursor = line["seq"]
                                yield line
                            elif event.event == "end":
                                return
                        continue  # the stream's time limit: reconnect at once
            except LOST:
                pass  # resumed below from the last line received
            away_since = away_since or time.monotonic()
            if time.monotonic() - away_since > give_up_after:
                raise Unreachable(f"{self.url} has not answered for {give_up_after:.0f} s")
            time.sleep(self.backoff)

    # -- datasets, workers, MXServer -----------------------------------------------------------
    def upload_dataset(self, path: str, name: str | None = None, kind: str | None = None,
                       progress: Progress | None = None) -> dict:
        """Uploads a dataset file; ``progress(sent, total)`` is called as its bytes go out.
        Returns the reply (``dataset``: its metadata). A rejected file raises ApiError 422 with
        one entry per problem in ``errors``."""
        fields = {k: v for k, v in (("name", name), ("kind", kind)) if v}
        body = ProgressBody(path, fields, progress)
        return self._call("POST", "/api/v0/datasets", idempotent=False, data=body,
                          headers={"Content-Type": body.content_type, "Content-Length": str(len(body))})

    def wait_dataset(self, name: str, poll: float = 1.0, timeout: float = 600) -> dict:
        """Polls an image dataset until the MXNet worker has validated it (READY or REJECTED)."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.dataset(name)
            if row.get("status") != "VALIDATING" or time.monotonic() > deadline:
                return row
            time.sleep(poll)

    def datasets(self) -> list[dict]:
        return self._get("/api/v0/datasets")["datasets"]

    def dataset(self, name: str) -> dict:
        return self._get(f"/api/v0/datasets/{name}")

    def delete_dataset(self, name: str) -> dict:
        return self._call("DELETE", f"/api/v0/datasets/{name}", idempotent=True)

    def gpus(self) -> list[dict]:
        """Every live worker with its GPUs and the task it holds."""
        return self._get("/api/v0/gpus")["workers"]

    # -- accounts (the access contract) ----------------------------------------------------
    def whoami(self) -> dict:
        """{"user", "token", "projects"}. Raises ApiError 404 on a server without accounts,
        401 for a missing or rejected token."""
        return self._get("/api/v0/whoami")

    def projects(self) -> list[dict]:
        return self._get("/api/v0/projects")["projects"]

    # -- serving ----------------------------------------------------------------------------
    def deploy(self, task_id: str, **settings) -> dict:
        """Deploys a SUCCEEDED task (name, version, batch_size, max_batch_delay, min_worker,
        max_worker, description; all optional). Returns the reply; ``model.status`` is EXPORTING."""
        body = {k: v for k, v in settings.items() if v is not None}
        return self._call("POST", f"/api/v0/tasks/{task_id}/deploy", idempotent=False, json=body)

    def served_model(self, name: str, version: str | None = None) -> dict:
        """The registry's description of a model version (MMS's shape: status, workers, ...)."""
        rows = self._get(f"/models/{name}" + (f"/{version}" if version else ""))
        return rows[0] if isinstance(rows, list) else rows

    def wait_served(self, name: str, version: str | None = None, poll: float = 1.0,
                    timeout: float = 600) -> dict:
        """Polls a deployed model until it is READY or FAILED (or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.served_model(name, version)
            if row.get("status") in ("READY", "FAILED") or time.monotonic() > deadline:
                return row
            time.sleep(poll)

    def predict(self, model: str, body: Any = None, file: str | None = None, version: str | None = None) -> dict:
        """Predictions of a served connectome model: ``body`` a JSON body ({"matrix": ...},
        {"matrices": [...]}), or ``file`` an .npz / DPABI .zip of subjects."""
        params = {"version": version} if version else None
        path = f"/api/v0/models/{model}/predict"
        if file is not None:
            with open(file, "rb") as fh:
                return self._call("POST", path, idempotent=True, params=params, files={"file": fh})
        return self._call("POST", path, idempotent=True, params=params, json=body)

    # -- sweeps -----------------------------------------------------------------------------
    def sweep(self, form: dict, grid: dict[str, list[Any]], sample: int | None = None,
              seed: int = 0) -> tuple[str, list[str]]:
        """Submits one task per combination of ``grid`` (``{"param_set.learning_rate": [..]}``,
        see client.sweep.parse_grid), or ``sample`` of them at random; returns (sweep id, task
        ids). Every form is checked by the API before the next is sent; a rejected one raises
        ApiError, and the tasks already queued are stopped so no half sweep is left running."""
        sweep_id = sweep.new_sweep_id()
        task_ids: list[str] = []
        try:
            for combo in sweep.combinations(grid, sample, seed):
                task_ids.append(self.submit(sweep.form_for(form, combo, sweep_id)))
        except ApiError:
            for task_id in task_ids:
                self.stop(task_id)
            raise
        return sweep_id, task_ids

    def leaderboard(self, sweep_id: str, sort: str = DEFAULT_SORT) -> list[dict]:
        """The sweep's tasks, best first by ``sort`` (the listing's sort keys; by default the
        selection metric, best_val_loss ascending)."""
        return list(self.tasks(sweep_id=sweep_id, sort=sort, limit=None))

    def sweep_selection(self, sweep_id: str, metric: str | None = None) -> dict:
        """The sweep's tasks and its selection record: the task chosen on ``metric`` (a
        validation metric, best_val_loss by default), from how many, and its test metrics."""
        params = {} if metric is None else {"metric": metric}
        return self._get(f"/api/v0/sweeps/{requests.utils.quote(sweep_id, safe='')}", params=params)

    def mx_train(self, body: dict) -> dict:
        return self._call("POST", "/train", idempotent=False, json=body)

    def mx_eval(self, body: dict) -> dict:
        return self._call("POST", "/eval", idempotent=False, json=body)

    def mx_stop(self, task_id: str) -> dict:
        return self._call("POST", "/stop", idempotent=True, json={"task_id": task_id})
