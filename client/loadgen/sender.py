"""One sender process: an asyncio loop that sends its share of the schedule, open loop.

Every process of a run computes the same schedule and sends every ``count``-th request starting
at ``index``, so together they send the whole schedule while each one's event loop stays far
from saturation. A send never waits for an earlier answer; when it goes out late (the loop was
busy, or ``max_inflight`` requests were outstanding) its latency still counts from the time it
was *meant* to go (no coordinated omission), and the lateness is reported.

Talks to the parent over a ``multiprocessing`` pipe:
  parent -> sender: ("go", start_monotonic) once; then ("rate", at_seconds, rate) or ("stop",)
  sender -> parent: ("ready",); ("samples", [Sample...], watermark) every ~100 ms; ("done", cpu_s)

A sample is a tuple (intended, sent, done, status, kind), times in seconds from the run's start;
status 0 when no HTTP answer came, and kind then says why: timeout, refused, reset, error, or
unfinished (still outstanding when the run was stopped; ``sent`` is None if it never went out). The watermark is the earliest intended
time of any request not yet reported, so the parent knows which windows are complete.
"""

from __future__ import annotations

import asyncio
import errno
import resource
import signal
import time
from dataclasses import dataclass

import aiohttp

from client.loadgen.fasthttp import Pool, RequestFailed
from client.loadgen.schedule import Rates, Stage, send_times
from client.loadgen.target import Target

FLUSH_SECONDS = 0.1


@dataclass(frozen=True)
class Plan:
    stages: tuple[Stage, ...]
    arrival: str = "constant"
    seed: int = 0
    max_inflight: int = 10_000


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "refused" if getattr(exc, "errno", None) == errno.ECONNREFUSED else "connect"
    if isinstance(exc, (aiohttp.ServerDisconnectedError, ConnectionResetError)):
        return "reset"
    if isinstance(exc, aiohttp.ClientOSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return "reset"
    return "error"


def raise_fd_limit(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


class Sender:
    def __init__(self, index: int, count: int, plan: Plan, target: Target, conn):
        self.index, self.count, self.plan, self.target, self.conn = index, count, plan, target, conn
        self.rates = Rates(list(plan.stages))
        self.body = target.bodies(index)
        self.samples: list[tuple] = []
        self.inflight: dict[int, float] = {}  # seq -> intended time
        self.next_intended = 0.0
        self.stopped = asyncio.Event()
        self.idle = asyncio.Event()  # set when the schedule is over and nothing is outstanding
        self.start = 0.0

    # -- control from the parent ------------------------------------------------------
    def _on_message(self) -> None:
        while self.conn.poll():
            msg = self.conn.recv()
            if msg[0] == "rate":
                self.rates.override(msg[1], msg[2])
            elif msg[0] == "stop":
                self.stopped.set()

    # -- sending ----------------------------------------------------------------------
    async def _one(self, send, seq: int, intended: float, slots: asyncio.Semaphore) -> None:
        loop_time = time.monotonic
        sent = None
        try:
            async with slots:
                sent = loop_time() - self.start
                try:
                    status, kind = await send(self.body(seq)), ""
                except RequestFailed as exc:
                    status, kind = 0, exc.kind
                except Exception as exc:  # every failure is a counted sample, never dropped
                    status, kind = 0, error_kind(exc)
                self.samples.append((intended, sent, loop_time() - self.start, status, kind))
        except asyncio.CancelledError:
            self.samples.append((intended, sent, time.monotonic() - self.start, 0, "unfinished"))
        finally:
            del self.inflight[seq]
            if not self.inflight and self.next_intended == float("inf"):
                self.idle.set()

    async def _schedule(self, send) -> None:
        slots = asyncio.Semaphore(self.plan.max_inflight)
        tasks = set()
        for seq, intended in enumerate(send_times(self.rates, self.plan.arrival, self.plan.seed)):
            if self.stopped.is_set():
                break
            if seq % self.count != self.index:
                continue
            self.next_intended = intended
            delay = self.start + intended - time.monotonic()
            if delay > 0.05:  # a long wait must end at once on a stop
                try:
                    await asyncio.wait_for(self.stopped.wait(), delay)
                    break
                except asyncio.TimeoutError:
                    pass
            elif delay > 0.0005:
                await asyncio.sleep(delay)
            self.inflight[seq] = intended
            task = asyncio.ensure_future(self._one(send, seq, intended, slots))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        self.next_intended = float("inf")
        if self.inflight:
            await asyncio.wait([asyncio.ensure_future(self.idle.wait()),
                                asyncio.ensure_future(self.stopped.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
        for task in list(tasks):
            task.cancel()  # only after a stop: each records itself as unfinished
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _with_aiohttp(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(total=self.target.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
            async def send(body: bytes | None) -> int:
                async with session.request(self.target.method, self.target.url, data=body,
                                           headers=self.target.headers) as resp:
                    await resp.read()
                    return resp.status

            await self._schedule(send)

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        watermark = min(min(self.inflight.values(), default=float("inf")), self.next_intended)
        batch, self.samples = self.samples, []
        self.conn.send(("samples", batch, watermark))

    async def run(self, start: float) -> None:
        self.start = start
        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), self._on_message)
        flusher = asyncio.ensure_future(self._flush_forever())
        if self.target.url.startswith("http://"):
            pool = Pool(self.target.url, self.target.method, self.target.headers, self.target.timeout)
            try:
                await self._schedule(pool.request)
            finally:
                pool.close()
        else:
            await self._with_aiohttp()
        flusher.cancel()
        loop.remove_reader(self.conn.fileno())
        self.flush()


def sender_main(index: int, count: int, plan: Plan, target: Target, conn) -> None:
    """Entry point of a sender process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and says stop
    raise_fd_limit(plan.max_inflight + 256)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    sender = Sender(index, count, plan, target, conn)
    conn.send(("ready",))
    msg = conn.recv()
    if msg[0] != "go":
        return
    asyncio.run(sender.run(msg[1]))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    conn.send(("done", usage.ru_utime + usage.ru_stime))
