"""The submit path's one-command publish stores the message ``send_task`` would store, and kombu's
own Redis consumer reads it back: in order, a recovered (front) task first."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from tasks import redis_publish
from tasks.celery_app import FRONT_HEADER, RUN_TORCH_TASK, make_celery
from contracts.settings import Settings
from tests.service.stack import REDIS_URL

PER_MESSAGE = {"id", "root_id", "correlation_id", "delivery_tag", "reply_to"}


@pytest.fixture()
def queue():
    name = f"test-publish-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(name, *client.keys(f"_kombu.binding*{name}*"))


@pytest.fixture()
def app():
    return make_celery(Settings(broker_url=REDIS_URL))


def _stored(queue: str) -> list[dict]:
    return [json.loads(m) for m in redis.Redis.from_url(REDIS_URL).lrange(queue, 0, -1)]


def _without_ids(message: dict) -> dict:
    return {**message, "headers": {k: v for k, v in message["headers"].items() if k not in PER_MESSAGE},
            "properties": {k: v for k, v in message["properties"].items() if k not in PER_MESSAGE}}


@pytest.mark.parametrize("front", [False, True])
def test_the_message_is_the_one_send_task_stores(app, queue, front):
    app.send_task(RUN_TORCH_TASK, args=["T-1"], queue=queue, ignore_result=True,
                  headers={FRONT_HEADER: True} if front else None)
    redis_publish.push(REDIS_URL, queue, redis_publish.task_message(app, RUN_TORCH_TASK, "T-1", queue, front), front)
    theirs, ours = _stored(queue)
    assert _without_ids(ours) == _without_ids(theirs)
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]


def test_kombus_consumer_reads_them_in_order_with_a_recovered_task_first(app, queue):
    for arg, front in (("T-1", False), ("T-2", False), ("T-RECOVERED", True)):
        redis_publish.push(REDIS_URL, queue, redis_publish.task_message(app, RUN_TORCH_TASK, arg, queue, front), front)
    with app.connection_for_read() as conn:
        consumer = conn.SimpleQueue(queue)
        received = []
        for _ in range(3):
            message = consumer.get(timeout=5)
            received.append((message.headers["task"], message.decode()[0]))
            message.ack()
        consumer.close()
    assert received == [(RUN_TORCH_TASK, ["T-RECOVERED"]), (RUN_TORCH_TASK, ["T-1"]), (RUN_TORCH_TASK, ["T-2"])]
