"""A reference HTTP server whose latency is known, to check a load generator against the truth.

Every request is answered after a delay drawn uniformly from [delay - jitter, delay + jitter].
Optionally the whole server stalls once, for ``stall_seconds`` from ``stall_at`` (seconds after
the first request): nothing is answered during the stall, and what arrives during it is only
looked at when it ends, as if the process had been frozen (a GC pause, a swapped-out worker).
So the true latency of a request that arrives at ``a`` is its delay ``d``, or, when it meets the
stall, ``stall_end - a + d`` (arrived during it) / ``stall_end - a`` (was due during it).

``GET /_stats`` reports the arrival times (monotonic seconds) and count the server saw, so tests
count sends server-side, and each request's served latency (arrival to answer, as the server saw
it): on a busy machine the event loop wakes late, so what was delivered exceeds what was injected,
and a generator is judged fairly against what the server really did. ``/status/<code>`` answers with that status; any other path answers 200.

Run it with ``trainyard loadgen reference-server --port 8099 --delay-ms 20 --jitter-ms 2``.
"""

from __future__ import annotations

import asyncio
import random
import time

from aiohttp import web


class Reference:
    def __init__(self, delay: float, jitter: float, stall_at: float | None = None,
                 stall_seconds: float = 1.0, seed: int = 0, keep_arrivals: bool = True):
        self.delay, self.jitter = delay, jitter
        self.stall_at, self.stall_seconds = stall_at, stall_seconds
        self.rng = random.Random(seed)
        self.first: float | None = None
        self.arrivals: list[float] = []
        self.served: list[tuple[float, float]] = []  # (arrival, served latency)
        self.keep_arrivals = keep_arrivals
        self.count = 0

    def stall_window(self) -> tuple[float, float] | None:
        if self.stall_at is None or self.first is None:
            return None
        start = self.first + self.stall_at
        return start, start + self.stall_seconds

    async def handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        if self.first is None:
            self.first = arrived
        self.count += 1
        if self.keep_arrivals:
            self.arrivals.append(arrived)
        await request.read()
        delay = self.rng.uniform(self.delay - self.jitter, self.delay + self.jitter)
        due = arrived + delay
        stall = self.stall_window()
        if stall and stall[0] <= arrived < stall[1]:
            due = stall[1] + delay
        elif stall and stall[0] <= due < stall[1]:
            due = stall[1]
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if self.keep_arrivals:
            self.served.append((arrived, time.monotonic() - arrived))
        code = request.match_info.get("code")
        return web.Response(status=int(code) if code else 200, text="ok")

    async def stats(self, request: web.Request) -> web.Response:
        stall = self.stall_window()
        return web.json_response({"count": self.count, "arrivals": self.arrivals, "first": self.first,
                                  "served": self.served,
                                  "stall": list(stall) if stall else None})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/_stats", self.stats)
        app.router.add_route("*", r"/status/{code:\d{3}}", self.handle)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


def serve(port: int, host: str = "127.0.0.1", **kw) -> None:
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    web.run_app(Reference(**kw).app(), host=host, port=port, print=None, access_log=None, shutdown_timeout=1,
                backlog=4096)
