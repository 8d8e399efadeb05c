"""A task recovered from a killed worker keeps its place: it runs before the tasks submitted
after it (its message goes to the head of the Redis queue), as the queue position the API
reports (by submission time) says."""

from __future__ import annotations

import json
import signal

import pytest
import redis

from tests.service.forms import form
from tests.service.stack import REDIS_URL, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack():
    with running_stack(workers=1) as s:
        yield s


def test_a_task_recovered_from_a_killed_worker_runs_before_later_ones(stack):
    first = stack.submit(form(epochs=6, batch_size=1))
    stack.wait_task(first, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 1)
    stack.signal("w0", signal.SIGKILL)
    # The dying worker's Celery may hand the message back to the head of the queue before the
    # kill reaches it (reject_on_worker_lost), or not: drop that copy, so the order below comes
    # from the reaper's re-publish alone.
    _drop_messages_of(stack.queue, first)
    later = [stack.submit(form(epochs=1)) for _ in range(2)]
    # The reaper sees the lease expire and re-publishes the task, behind the later messages in time.
    recovered = stack.wait_task(first, statuses={"QUEUED"}, until=lambda t: t["attempt"] == 2, timeout=60)
    assert recovered["queue_position"] == 1
    assert [stack.task(t)["queue_position"] for t in later] == [2, 3]
    stack.start_worker("w1")  # concurrency 1: one task at a time, in queue order
    done = [stack.wait_task(t, timeout=180) for t in [first, *later]]
    assert [t["status"] for t in done] == ["SUCCEEDED"] * 3
    assert done[0]["attempt"] == 2
    started = [t["started_at"] for t in done]
    assert started == sorted(started), started


def _drop_messages_of(queue: str, task_id: str) -> None:
    broker = redis.Redis.from_url(REDIS_URL)
    for raw in broker.lrange(queue, 0, -1):
        if task_id in json.loads(raw)["headers"]["argsrepr"]:
            broker.lrem(queue, 0, raw)
