"""Publishing a Celery task to a Redis broker with one command, on the API's submit path.

``Celery.send_task`` spends about 200 µs of CPU per message in kombu's producer pool, retry
wrapper and message preparation; the message itself is one LPUSH. Here Celery builds the task
message (``app.amqp.as_task_v2``: protocol 2 headers and body, so the protocol stays Celery's),
this module wraps it the way kombu's Redis transport stores a message, and a redis client kept
per process pushes it: about 50 µs. tests/tasks/test_redis_publish.py compares the stored message
with the one ``send_task`` stores, so a kombu or Celery upgrade that changes the format fails there.

A ``front`` message (a recovered task) goes to the end that workers pop next (kombu publishes
with LPUSH and consumes with BRPOP), as tasks.redis_transport does for ``send_task``.
"""

from __future__ import annotations

import base64
import functools
import json
import uuid

import redis
from celery import Celery

from tasks.celery_app import FRONT_HEADER

CONTENT_TYPE = "application/json"
ENCODING = "utf-8"


def task_message(app: Celery, name: str, arg: str, queue: str, front: bool = False) -> bytes:
    """``name(arg)`` as the JSON kombu's Redis transport stores for ``send_task(..., queue=queue,
    ignore_result=True)``."""
    task_id = str(uuid.uuid4())
    message = app.amqp.as_task_v2(task_id, name, args=[arg], kwargs={}, ignore_result=True)
    headers = dict(message.headers, **({FRONT_HEADER: True} if front else {}))
    body = base64.b64encode(json.dumps(message.body).encode(ENCODING)).decode("ascii")
    properties = dict(message.properties, delivery_mode=2, priority=0, body_encoding="base64",
                      delivery_info={"exchange": "", "routing_key": queue}, delivery_tag=str(uuid.uuid4()))
    return json.dumps({"body": body, "content-encoding": ENCODING, "content-type": CONTENT_TYPE,
                       "headers": headers, "properties": properties}).encode(ENCODING)


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # redis-py's pool notices a fork and opens new connections in the child.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def push(url: str, queue: str, message: bytes, front: bool = False) -> None:
    """Raises redis.RedisError when the broker does not take it."""
    client = _client(url)
    if front:
        client.rpush(queue, message)
    else:
        client.lpush(queue, message)
