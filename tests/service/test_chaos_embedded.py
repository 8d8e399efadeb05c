"""Issue 27 (e): the embedded default (SQLite + the filesystem broker under var/) survives the
same chaos as the split stack, judged from its SQLite database afterwards:

- the torch worker SIGKILLed mid-training, with another task queued behind it: the killed task
  resumes from its checkpoint (attempt 2), every task ends SUCCEEDED exactly once, and each
  epoch is recorded once;
- the API's whole process group SIGKILLed in the middle of a burst of submissions, then started
  again: every task it answered 201 for exists and finishes (and so does any task it stored
  without answering)."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from tests.service.forms import form, small_npz
from tests.service.stack import TERMINAL, Stack, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
DEADLINE = 300  # seconds: bounds a hang, not a verdict


@pytest.fixture(scope="module")
def embedded():
    """The embedded default as ./start.sh runs it: one API, one torch worker, the reaper."""
    with running_stack("embedded", point_here=False, workers=1) as s:
        yield s


def _db(stack: Stack) -> sqlite3.Connection:
    path = Path(stack.env["TRAINYARD_VAR_DIR"]) / "trainyard.db"
    assert path.exists(), path
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def _rows(stack: Stack, sql: str, *args) -> list[sqlite3.Row]:  # noqa: ANN002
    with contextlib.closing(_db(stack)) as conn:
        return conn.execute(sql, args).fetchall()


def _tasks(stack: Stack, ids) -> dict[str, sqlite3.Row]:  # noqa: ANN001
    ids = list(ids)
    marks = ",".join("?" * len(ids))
    return {r["id"]: r for r in _rows(stack, f"SELECT * FROM tasks WHERE id IN ({marks})", *ids)}


def _wait_finished(stack: Stack, ids, deadline: float = DEADLINE) -> dict[str, sqlite3.Row]:  # noqa: ANN001
    """The tasks' rows once every one is terminal (read from the database)."""
    end = time.monotonic() + deadline
    while True:
        rows = _tasks(stack, ids)
        if len(rows) == len(set(ids)) and all(r["status"] in TERMINAL for r in rows.values()):
            return rows
        assert time.monotonic() < end, (
            {i: (r["status"], r["attempt"], r["worker"]) for i, r in rows.items()},
            "\n".join(f"== {k}\n{stack.log(k)[-2500:]}" for k in stack.procs))
        time.sleep(0.5)


def _finish_lines(stack: Stack, task_id: str) -> list[sqlite3.Row]:
    """The task's own log lines (task_logs) saying a run of it finished, whatever as."""
    return _rows(stack, "SELECT attempt, message FROM task_logs WHERE task_id = ? AND message LIKE 'finished as %'",
                 task_id)


def test_a_worker_killed_mid_training_resumes_and_every_task_succeeds_once(embedded):
    long_id = embedded.submit(form(epochs=12, batch_size=1))
    queued = [embedded.submit(form(epochs=2, batch_size=1, seed=s)) for s in (1, 2)]
    running = embedded.wait_task(long_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 3,
                                 timeout=DEADLINE)
    behind = _tasks(embedded, queued)
    assert {r["status"] for r in behind.values()} == {"QUEUED"}, "the kill should find tasks queued behind"
    embedded.signal("w0", signal.SIGKILL)
    embedded.start_worker("w0")  # as ./start.sh's supervisor starts the role again
    rows = _wait_finished(embedded, [long_id, *queued])
    assert {i: r["status"] for i, r in rows.items()} == dict.fromkeys(rows, "SUCCEEDED"), \
        {i: (r["status"], r["error"]) for i, r in rows.items()}
    assert rows[long_id]["attempt"] == 2
    # A queued task the dead worker had only taken from the broker is not a failed attempt.
    assert [rows[i]["attempt"] for i in queued] == [1, 1]
    done = embedded.task(long_id)
    # Epoch e is reported before its checkpoint is written: the newest may be e - 1.
    resumed = done["result"].get("resumed_from_epoch")
    assert resumed is not None, f"not resumed from a checkpoint: {done['result']}"
    assert resumed >= running["progress"]["epoch"] - 1 >= 2, done["result"]
    for task_id, epochs in [(long_id, 12), *((i, 2) for i in queued)]:
        recorded = _rows(embedded, "SELECT epoch, attempt FROM task_epochs WHERE task_id = ? ORDER BY epoch", task_id)
        assert Counter(r["epoch"] for r in recorded) == Counter(range(1, epochs + 1)), (task_id, recorded)
        lines = _finish_lines(embedded, task_id)
        assert [r["message"] for r in lines] == ["finished as SUCCEEDED"], (task_id, [tuple(r) for r in lines])
    first = _rows(embedded, "SELECT epoch, attempt FROM task_epochs WHERE task_id = ?", long_id)
    assert {r["attempt"] for r in first if r["epoch"] <= resumed} == {1}, "a checkpointed epoch was trained again"
    assert {r["attempt"] for r in first if r["epoch"] > resumed} == {2}


class _Burst:
    """Submitting threads that keep going through an outage of the API: each records the ids
    it was answered 201 for; a connection error or a 5xx is only retried."""

    def __init__(self, stack: Stack, body: dict, threads: int = 4):
        self.stack, self.body = stack, body
        self.accepted: list[str] = []
        self.failed_tries = 0
        self.others: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> "_Burst":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.stop.set()
        for t in self.threads:
            t.join(timeout=90)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                r = requests.post(self.stack.url + "/api/v0/new_task", json=self.body, headers=self.stack.headers,
                                  timeout=30)
            except requests.RequestException:
                with self.lock:
                    self.failed_tries += 1
                time.sleep(0.05)
                continue
            with self.lock:
                if r.status_code == 201:
                    self.accepted.append(r.json()["task_form"]["task_id"])
                    self.stack.unfinished.add(self.accepted[-1])
                else:
                    self.others.append((r.status_code, r.text[:200]))

    def wait(self, n: int, deadline: float = DEADLINE) -> None:
        end = time.monotonic() + deadline
        while len(self.accepted) < n:
            assert time.monotonic() < end, f"only {len(self.accepted)} of {n} submissions answered 201: {self.others[:3]}"
            time.sleep(0.02)


def test_the_api_killed_mid_burst_loses_no_task_it_answered_201_for(embedded):
    r = embedded.post("/api/v0/datasets", files={"file": ("tiny.npz", small_npz(n=12, r=6))},
                      data={"name": "tiny-embedded-burst"})
    assert r.status_code == 201, r.text
    data = ["tiny-embedded-burst"]
    body = form(epochs=1, proj_id="PROJ-embedded-burst", train_data=data, val_data=data, test_data=data,
                enable_test=False)
    with _Burst(embedded, body) as burst:
        burst.wait(8)
        embedded.signal("api", signal.SIGKILL)  # the whole process group: gunicorn and its workers
        killed_at = len(burst.accepted)
        embedded.spawn("api", "embedded")
        embedded.wait_http()
        burst.wait(killed_at + 8)
    assert burst.failed_tries > 0, "no submission met the dead API: the kill did not land mid-burst"
    assert not [o for o in burst.others if o[0] < 500], burst.others
    accepted = burst.accepted
    assert len(set(accepted)) == len(accepted)
    rows = _wait_finished(embedded, accepted)
    assert set(rows) == set(accepted), f"answered 201 but never stored: {set(accepted) - set(rows)}"
    assert {r["status"] for r in rows.values()} == {"SUCCEEDED"}, \
        {i: (r["status"], r["error"]) for i, r in rows.items() if r["status"] != "SUCCEEDED"}
    # Whatever the dead API stored without answering must finish too: no orphan QUEUED row.
    every = [r["id"] for r in _rows(embedded, "SELECT id FROM tasks WHERE proj_id = 'PROJ-embedded-burst'")]
    unanswered = set(every) - set(accepted)
    embedded.unfinished.update(unanswered)
    assert {r["status"] for r in _wait_finished(embedded, every).values()} == {"SUCCEEDED"}
    for task_id in every:
        assert [r["message"] for r in _finish_lines(embedded, task_id)] == ["finished as SUCCEEDED"], task_id
    print(f"{len(accepted)} answered 201, {len(unanswered)} stored unanswered, "
          f"{burst.failed_tries} tries met the dead API")
