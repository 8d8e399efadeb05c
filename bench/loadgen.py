"""A bounded closed-loop HTTP load generator for loopback benchmarks.

``concurrency`` client processes (processes, not threads: the GIL would make the client the
bottleneck on a small machine) each keep one ``http.client`` connection, reconnecting when the
server closes it (gunicorn's sync workers close after every response), and send the next request
as soon as the previous answer is read. Every client stops at ``deadline`` or after
``max_requests``, whichever comes first, so a run always ends by itself.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Load:
    url: str  # e.g. http://127.0.0.1:8123
    method: str
    paths: tuple[str, ...]  # clients rotate over these
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    expect: tuple[int, ...] = (200, 201)


@dataclass
class Samples:
    """What one client saw: per-request latencies (s) of expected answers, and failures."""
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    ids: list[str] = field(default_factory=list)
    first_error: str = ""
    ended: float = 0.0  # time.monotonic() when this client stopped


def _send(conn: http.client.HTTPConnection, load: Load, path: str) -> tuple[int, bytes]:
    conn.request(load.method, path, body=load.body, headers=dict(load.headers))
    resp = conn.getresponse()
    return resp.status, resp.read()


def _client(load: Load, offset: int, start_at: float, deadline: float, max_requests: int,
            keep_bodies: bool) -> Samples:
    parts = urlsplit(load.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    out = Samples()
    time.sleep(max(0.0, start_at - time.monotonic()))
    i = offset
    while time.monotonic() < deadline and len(out.latencies) + out.failures < max_requests:
        path = load.paths[i % len(load.paths)]
        i += 1
        t0 = time.perf_counter()
        try:
            status, body = _send(conn, load, path)
        except (OSError, http.client.HTTPException) as exc:
            out.failures += 1
            out.first_error = out.first_error or repr(exc)
            conn.close()
            continue
        if status in load.expect:
            out.latencies.append(time.perf_counter() - t0)
            if keep_bodies:
                out.ids.append(body.decode())
        else:
            out.failures += 1
            out.first_error = out.first_error or f"HTTP {status}: {body[:200]!r}"
    conn.close()
    out.ended = time.monotonic()
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ranked = sorted(values)
    index = min(len(ranked) - 1, max(0, round(q / 100 * len(ranked) + 0.5) - 1))
    return ranked[index]


@dataclass
class Result:
    requests: int
    failures: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    concurrency: int
    first_error: str = ""
    server_cpu_ms_per_req: float | None = None  # filled in by the caller when it can measure
    bodies: list[str] = field(default_factory=list, repr=False)
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("bodies", "latencies_ms")}


def run_load(load: Load, concurrency: int, seconds: float, max_requests: int,
             keep_bodies: bool = False) -> Result:
    """Drive ``load`` for at most ``seconds`` and ``max_requests`` (over all clients)."""
    per_client = max(1, max_requests // concurrency)
    start_at = time.monotonic() + 0.5  # let every client process start first
    deadline = start_at + seconds
    args = [(load, i, start_at, deadline, per_client, keep_bodies) for i in range(concurrency)]
    with mp.get_context("fork").Pool(concurrency) as pool:
        samples = pool.starmap(_client, args)
    elapsed = max(1e-9, max(s.ended for s in samples) - start_at)
    return _summarise(samples, elapsed, concurrency)


def _summarise(samples: list[Samples], elapsed: float, concurrency: int) -> Result:
    return _result(ms=[x * 1000 for s in samples for x in s.latencies],
                   failures=sum(s.failures for s in samples), elapsed=elapsed, concurrency=concurrency,
                   first_error=next((s.first_error for s in samples if s.first_error), ""),
                   bodies=[b for s in samples for b in s.ids])


def _result(ms: list[float], failures: int, elapsed: float, concurrency: int, first_error: str,
            bodies: list[str]) -> Result:
    return Result(
        requests=len(ms), failures=failures, seconds=round(elapsed, 2), rps=round(len(ms) / elapsed, 1),
        p50_ms=round(percentile(ms, 50), 2), p90_ms=round(percentile(ms, 90), 2),
        p99_ms=round(percentile(ms, 99), 2), mean_ms=round(statistics.fmean(ms), 2) if ms else float("nan"),
        concurrency=concurrency, first_error=first_error, bodies=bodies, latencies_ms=ms,
    )


def merge(results: list[Result]) -> Result:
    """Several load tests of the same thing as one: pooled latencies, summed requests and time."""
    merged = _result(
        ms=[x for r in results for x in r.latencies_ms], failures=sum(r.failures for r in results),
        elapsed=sum(r.seconds for r in results), concurrency=results[0].concurrency,
        first_error=next((r.first_error for r in results if r.first_error), ""),
        bodies=[b for r in results for b in r.bodies])
    cpu = [r.server_cpu_ms_per_req * r.requests for r in results if r.server_cpu_ms_per_req is not None]
    if len(cpu) == len(results):
        merged.server_cpu_ms_per_req = round(sum(cpu) / max(1, merged.requests), 3)
    return merged
