"""A lean HTTP/1.1 client for plain ``http://`` targets: asyncio protocols, httptools' parser.

Why not aiohttp here: measured on the 2-core development machine, aiohttp's client spends about
300 us of CPU per request, a bare asyncio protocol about 45 us (bench/README.md). An open-loop
generator that must hold thousands of requests per second beside the server it measures needs
the lean path; ``https://`` targets still go through aiohttp (see ``client.loadgen.sender``).

Connections are kept alive and reused; when none is idle a new one is opened (an open-loop
generator never waits for an answer before sending). Responses are parsed by httptools (the
llhttp parser that uvicorn uses), so chunked bodies and ``Connection: close`` are handled.
"""

from __future__ import annotations

import asyncio
import errno
from urllib.parse import urlsplit

import httptools


class RequestFailed(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind  # timeout, refused, reset, connect, error


class _Conn(asyncio.Protocol):
    def __init__(self, pool: "Pool"):
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.future: asyncio.Future | None = None
        self.done = False
        self.keep_alive = False

    # httptools callbacks; keep-alive is only known until the message completes
    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()

    def on_message_complete(self) -> None:
        self.done = True

    # asyncio callbacks
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("error")
            return
        if self.done and self.future is not None:
            status, keep = self.parser.get_status_code(), self.keep_alive
            future, self.future = self.future, None
            self.done = False
            self.parser = httptools.HttpResponseParser(self)
            if not future.done():
                future.set_result(status)
            if keep:
                self.pool.release(self)
            else:
                self.transport.close()

    def connection_lost(self, exc) -> None:
        self.pool.forget(self)
        self._fail("reset")

    def _fail(self, kind: str) -> None:
        future, self.future = self.future, None
        if future is not None and not future.done():
            future.set_exception(RequestFailed(kind))
        if self.transport is not None:
            self.transport.close()

    def send(self, data: bytes, future: asyncio.Future) -> None:
        self.future = future
        self.transport.write(data)


class Pool:
    """Keep-alive connections to one host:port, and the request bytes to send on them."""

    def __init__(self, url: str, method: str, headers: tuple[tuple[str, str], ...], timeout: float):
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError("the lean client speaks plain http only")
        self.host, self.port = parts.hostname, parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        names = {k.lower() for k, _ in headers}
        lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if "user-agent" not in names:
            lines.append("User-Agent: trainyard-loadgen")
        self.head = ("\r\n".join(lines) + "\r\n").encode()
        self.timeout = timeout
        self.idle: list[_Conn] = []
        self.all: set[_Conn] = set()
        self.loop = asyncio.get_running_loop()

    def release(self, conn: _Conn) -> None:
        self.idle.append(conn)

    def forget(self, conn: _Conn) -> None:
        self.all.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    async def _connection(self, wait: float) -> _Conn:
        while self.idle:
            conn = self.idle.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                return conn
        try:
            _, conn = await asyncio.wait_for(self.loop.create_connection(lambda: _Conn(self), self.host, self.port),
                                             max(wait, 0.001))
        except asyncio.TimeoutError:
            raise RequestFailed("timeout") from None
        except OSError as exc:
            raise RequestFailed("refused" if exc.errno == errno.ECONNREFUSED else "connect") from None
        self.all.add(conn)
        return conn

    @staticmethod
    def _expire(conn: _Conn, future: asyncio.Future) -> None:
        if not future.done():
            future.set_exception(RequestFailed("timeout"))
            conn.future = None
            conn.transport.close()  # a late answer must not land on the next request

    async def request(self, body: bytes | None) -> int:
        """Sends one request and returns the status; RequestFailed says why when none came."""
        data = self.head + (b"Content-Length: %d\r\n\r\n%s" % (len(body), body) if body is not None else b"\r\n")
        deadline = self.loop.time() + self.timeout
        conn = await self._connection(self.timeout)
        future = self.loop.create_future()
        timer = self.loop.call_later(max(0.0, deadline - self.loop.time()), self._expire, conn, future)
        conn.send(data, future)
        try:
            return await future
        except asyncio.CancelledError:
            conn.future = None
            conn.transport.close()  # the answer may still come: this connection is spent
            raise
        finally:
            timer.cancel()

    def close(self) -> None:
        for conn in list(self.all):
            if conn.transport is not None:
                conn.transport.close()
