"""Redis really restarted (SHUTDOWN NOSAVE: its queue is gone) with a task running and others
queued: the API keeps accepting work (the database is the record) and says the broker is away,
and once Redis is back every task ends exactly once, each finished epoch recorded once.
Judged from the database through the API."""

from __future__ import annotations

import contextlib
import subprocess
import time

import pytest
import redis
import requests

from tests.service.forms import form
from tests.service.stack import free_port, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


class PrivateRedis:
    """A redis-server of this test's own, on a free port, without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def shutdown_nosave(self) -> None:
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(self.url).shutdown(nosave=True)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture()
def broker():
    r = PrivateRedis()
    r.start()
    try:
        yield r
    finally:
        r.stop()


def test_a_restarted_redis_loses_no_task(broker):
    with running_stack(workers=1, broker_url=broker.url) as stack:
        running = stack.submit(form(epochs=12, batch_size=2))
        stack.wait_task(running, statuses={"RUNNING"})
        queued = [stack.submit(form(epochs=2)) for _ in range(3)]
        broker.shutdown_nosave()
        during = stack.post("/api/v0/new_task", json=form(epochs=2))
        assert during.status_code == 201, during.text  # accepted: it waits in the database
        assert requests.get(stack.url + "/healthz", timeout=30).status_code == 503
        broker.start()  # empty: what was queued in it is gone
        tasks = [running, *queued, during.json()["task_form"]["task_id"]]
        for task_id in tasks:
            task = stack.wait_task(task_id, timeout=300)
            assert task["status"] == "SUCCEEDED", task
            epochs = stack.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"]
            assert [e["epoch"] for e in epochs] == list(range(1, task["progress"]["epochs"] + 1)), epochs
        assert requests.get(stack.url + "/healthz", timeout=30).status_code == 200
