"""kombu's Redis transport, reusing one redis client per channel for publishing.

kombu creates a new ``redis.Redis`` for every message it publishes, and redis-py fills about 170
response callbacks into a case-insensitive dict each time: a third of a publish's CPU, on the
path of every new task. A client is only a thin handle on the connection pool, so the channel
keeps one and reuses it (rebuilt if kombu replaces the pool).
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _publish_client = None

    def _create_client(self, asynchronous=False):  # noqa: ANN001, ANN202 - kombu's signature
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._publish_client
        if client is None or client.connection_pool is not self.pool:
            client = self._publish_client = super()._create_client()
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel
