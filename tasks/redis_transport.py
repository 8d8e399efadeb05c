"""kombu's Redis transport, reusing one redis client per channel for publishing.

kombu creates a new ``redis.Redis`` for every message it publishes, and redis-py fills about 170
response callbacks into a case-insensitive dict each time: a third of a publish's CPU, on the
path of every new task. A client is only a thin handle on the connection pool, so the channel
keeps one and reuses it (rebuilt if kombu replaces the pool).

A message with the ``FRONT_HEADER`` header (a recovered task) goes to the head of its queue: kombu
publishes with LPUSH and consumes with BRPOP, so RPUSH puts it where the next BRPOP takes it.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from kombu.utils.json import dumps

from tasks.celery_app import FRONT_HEADER


class Channel(kombu_redis.Channel):
    _publish_client = None

    def _create_client(self, asynchronous=False):  # noqa: ANN001, ANN202 - kombu's signature
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._publish_client
        if client is None or client.connection_pool is not self.pool:
            client = self._publish_client = super()._create_client()
        return client

    def _put(self, queue, message, **kwargs):  # noqa: ANN001, ANN202 - kombu's signature
        if not (message.get("headers") or {}).get(FRONT_HEADER) or kwargs.get("_publish_batch") is not None:
            return super()._put(queue, message, **kwargs)
        key = self._q_for_pri(queue, self._get_message_priority(message, reverse=False))
        with self.conn_or_acquire() as client:
            client.rpush(key, dumps(message))
        return None


class Transport(kombu_redis.Transport):
    Channel = Channel
