"""Redis loses the queue (a restart without its data): the reaper, which looks at its marker every
second between sweeps, notices it is gone and re-sends every queued task at once, instead of
waiting out TRAINYARD_REQUEUE_AFTER_SECONDS (60 s here, the default) for each, or its next sweep."""

from __future__ import annotations

import time

import pytest
import redis

from tests.service.forms import form
from tests.service.stack import REDIS_URL, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack():
    # A reaper sweep only every 30 s: the broker check between sweeps must notice the loss.
    with running_stack(workers=1, env={"TRAINYARD_REQUEUE_AFTER_SECONDS": "60",
                                       "TRAINYARD_REAPER_INTERVAL_SECONDS": "30"}) as s:
        yield s


def test_work_resumes_within_ten_seconds_after_redis_loses_the_queue(stack):
    busy = stack.submit(form(epochs=400, batch_size=1))
    stack.wait_task(busy, statuses={"RUNNING"})
    waiting = stack.submit(form(epochs=1))
    broker = redis.Redis.from_url(REDIS_URL)
    assert broker.llen(stack.queue) == 1
    # What a Redis restart without its data does to this stack's keys: the queue and the marker.
    broker.delete(stack.queue, f"trainyard.broker-marker.{stack.queue}")
    lost_at = time.monotonic()
    stack.post(f"/api/v0/tasks/{busy}/stop")
    assert stack.wait_task(busy)["status"] == "STOPPED"
    # The guard is the bound, far below the 60 s the old path waited for a lost message.
    task = stack.wait_task(waiting, statuses={"RUNNING", "SUCCEEDED"}, timeout=10)
    print(f"work resumed {time.monotonic() - lost_at:.1f} s after the queue was lost")
    assert task["attempt"] == 1
    assert stack.wait_task(waiting)["status"] == "SUCCEEDED"
