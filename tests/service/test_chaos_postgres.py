"""PostgreSQL away with a task running and others queued, on a cluster of the test's own:
restarted, and paused (SIGSTOP) for longer than the task lease. While it is away the API answers
503, never 500 and never past its timeouts; once it is back every task ends exactly once and each
of its epochs is recorded once. Judged from the database through the API."""

from __future__ import annotations

import time

import pytest
import requests

from tests.service.forms import form
from tests.service.private_postgres import PrivatePostgres
from tests.service.stack import running_stack

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
ANSWER_WITHIN = 30  # seconds: the API's database timeouts (connect 5 s, pool 10 s) are below it


@pytest.fixture()
def postgres():
    server = PrivatePostgres().create()
    try:
        yield server
    finally:
        server.destroy()


def _answers_503(url: str, headers: dict) -> None:
    started = time.monotonic()
    r = requests.get(url + "/api/v0/tasks", headers=headers, timeout=ANSWER_WITHIN)
    assert r.status_code == 503 and r.json()["error_num"] == 503, r.text
    r = requests.post(url + "/api/v0/new_task", json=form(epochs=1), headers=headers, timeout=ANSWER_WITHIN)
    assert r.status_code == 503, r.text
    assert time.monotonic() - started < 2 * ANSWER_WITHIN


def _all_end_once(stack, task_ids: list[str]) -> None:
    for task_id in task_ids:
        task = stack.wait_task(task_id, timeout=300)
        assert task["status"] == "SUCCEEDED", task
        epochs = stack.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"]
        assert [e["epoch"] for e in epochs] == list(range(1, task["progress"]["epochs"] + 1)), epochs


# pause: the kernel still acknowledges a paused server's packets, so neither tcp_user_timeout nor
# keepalives fire and the statement timeout is the server's own; the client-side deadline
# (TRAINYARD_DB_QUERY_DEADLINE_SECONDS, dao.db_watchdog) cuts the hung connection (issue 27).
@pytest.mark.parametrize("outage", ["restart", "pause"])
def test_postgres_away_loses_no_task(postgres, outage):
    with running_stack(workers=1, postgres=postgres.host) as stack:
        running = stack.submit(form(epochs=12, batch_size=2))
        stack.wait_task(running, statuses={"RUNNING"})
        queued = [stack.submit(form(epochs=2)) for _ in range(2)]
        if outage == "restart":
            postgres.stop()
            _answers_503(stack.url, stack.headers)
            postgres.start()
        else:
            paused = postgres.pause()
            try:
                _answers_503(stack.url, stack.headers)
                time.sleep(float(stack.env["TRAINYARD_LEASE_SECONDS"]))  # the outage itself: past the lease
            finally:
                postgres.resume(paused)
        _all_end_once(stack, [running, *queued])
