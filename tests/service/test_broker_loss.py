"""Redis loses the queue (a restart without its data): the reaper, which looks at its marker every
second between sweeps, notices it is gone and re-sends every queued task at once, instead of
waiting out TRAINYARD_REQUEUE_AFTER_SECONDS for each, or its next sweep.

Both of those are an hour here, so nothing but the broker check can bring the lost task back
while the test waits: its deadline only bounds a hang (how soon work resumes is not the claim)."""

from __future__ import annotations

import pytest
import redis

from tests.service.forms import form
from tests.service.stack import REDIS_URL, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack():
    # A reaper sweep only every hour (its first, at start, finds nothing lost), and a lost
    # message re-sent only an hour after it was published: the broker check between sweeps
    # is the only way back for a message the broker lost.
    with running_stack(workers=1, env={"TRAINYARD_REQUEUE_AFTER_SECONDS": "3600",
                                       "TRAINYARD_REAPER_INTERVAL_SECONDS": "3600"}) as s:
        yield s


def test_work_resumes_when_redis_loses_the_queue_without_waiting_for_a_sweep(stack):
    busy = stack.submit(form(epochs=400, batch_size=1))
    stack.wait_task(busy, statuses={"RUNNING"})
    waiting = stack.submit(form(epochs=1))
    broker = redis.Redis.from_url(REDIS_URL)
    assert broker.llen(stack.queue) == 1
    # What a Redis restart without its data does to this stack's keys: the queue and the marker.
    broker.delete(stack.queue, f"trainyard.broker-marker.{stack.queue}")
    stack.post(f"/api/v0/tasks/{busy}/stop")
    assert stack.wait_task(busy)["status"] == "STOPPED"
    stack.wait_log("beat", "the broker lost its data", timeout=120)
    task = stack.wait_task(waiting, statuses={"RUNNING", "SUCCEEDED"}, timeout=120)
    assert task["attempt"] == 1
    assert stack.wait_task(waiting)["status"] == "SUCCEEDED"
