"""An open-loop HTTP load generator: requests go out on a fixed schedule, whatever the server
does, and each latency is measured from the request's *intended* send time (so a stalled server
shows up in the percentiles instead of slowing the clients: no coordinated omission).

``processes`` client processes, each with ``threads`` threads and one keep-alive connection per
thread, share the schedule round-robin. Latencies go into an HdrHistogram (microseconds, 3
significant digits) per process, merged at the end. Bounded: every client stops at the end of
the schedule plus a grace period.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from hdrh.histogram import HdrHistogram

LOWEST_US, HIGHEST_US, DIGITS = 1, 60_000_000, 3
BEHIND_S = 2.0  # a slot more than this late is dropped and counted as failed: the rate is not held


@dataclass(frozen=True)
class Shot:
    url: str
    path: str
    body: bytes
    rate: float  # requests per second, all clients together
    seconds: float
    processes: int = 2
    threads: int = 16
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)


def _thread(shot: Shot, start: float, slots: range, hist: HdrHistogram, counts: dict, lock) -> None:
    parts = urlsplit(shot.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    for i in slots:
        intended = start + i / shot.rate
        delay = intended - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif -delay > BEHIND_S:
            with lock:
                counts["failed"] += 1
                counts["dropped"] += 1
            continue
        try:
            conn.request("POST", shot.path, body=shot.body, headers=dict(shot.headers))
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            ok = False
        latency_us = max(LOWEST_US, int((time.perf_counter() - intended) * 1e6))
        with lock:
            if ok:
                hist.record_value(min(latency_us, HIGHEST_US))
                counts["ok"] += 1
            else:
                counts["failed"] += 1
    conn.close()


def _process(shot: Shot, index: int, start_wall: float, out) -> None:
    hist = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    counts, lock = {"ok": 0, "failed": 0, "dropped": 0}, threading.Lock()
    total = int(shot.rate * shot.seconds)
    # perf_counter is per process; anchor the schedule to a shared wall-clock start
    start = time.perf_counter() + (start_wall - time.time())
    stride = shot.processes * shot.threads
    threads = []
    for t in range(shot.threads):
        first = index * shot.threads + t
        threads.append(threading.Thread(target=_thread, args=(shot, start, range(first, total, stride), hist,
                                                              counts, lock)))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out.put((hist.encode(), counts))


def run(shot: Shot) -> dict:
    """Fire the schedule; returns scheduled/ok/failed/dropped counts and p50/p90/p99/max latency
    (ms) of the answered requests."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_wall = time.time() + 0.5
    procs = [ctx.Process(target=_process, args=(shot, i, start_wall, out)) for i in range(shot.processes)]
    for p in procs:
        p.start()
    merged = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    ok = failed = dropped = 0
    for _ in procs:
        encoded, counts = out.get(timeout=shot.seconds + 120)
        merged.decode_and_add(encoded)
        ok, failed, dropped = ok + counts["ok"], failed + counts["failed"], dropped + counts["dropped"]
    for p in procs:
        p.join(timeout=30)
    pct = {q: merged.get_value_at_percentile(q) / 1000.0 for q in (50, 90, 99)}
    return {"rate": shot.rate, "scheduled": ok + failed, "ok": ok, "failed": failed, "dropped_behind": dropped,
            "p50_ms": pct[50], "p90_ms": pct[90], "p99_ms": pct[99], "max_ms": merged.get_max_value() / 1000.0}
