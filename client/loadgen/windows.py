"""Per-second windows and the whole-run summary, computed from recorded samples.

A sample is (intended, sent, done, status, kind) in seconds from the run's start (see
``client.loadgen.sender``). Window ``w`` covers [w, w+1) seconds:

- ``offered``: requests the schedule meant to send in the window (by intended time) — offered RPS;
- ``sent``: requests that actually went out in it (by send time) — the achieved send rate;
- ``qps``: successful answers that arrived in it (by arrival time) — completed QPS;
- ``sr``: of the window's offered requests, the share answered with success (status < 400); the
  seed's QPS/RPS, counted per request so that a catch-up second after a stall cannot exceed 1;
- ``errors_by_status`` (HTTP >= 400) and ``errors_by_kind`` (timeout, refused, reset, ...), by
  intended time: every request is counted, none dropped;
- latency percentiles of the window's offered requests, measured from the *intended* send time
  and read from that window's own HdrHistogram; every request that got an HTTP answer counts, and
  so does a timeout (at the time it was given up, a lower bound);
- ``lag_p99_ms``/``lag_max_ms``: how late sends went out; ``late``: sends later than the late
  threshold, i.e. the generator, not the server, could not keep up.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 99.0, "p999_ms": 99.9}
HIGHEST_US = 600_000_000  # 10 minutes; longer latencies are recorded as 10 minutes


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HIGHEST_US, 3)


def record_us(hist: HdrHistogram, seconds: float) -> None:
    hist.record_value(min(HIGHEST_US, max(1, round(seconds * 1e6))))


def latency_fields(hist: HdrHistogram) -> dict:
    """p50/p90/p99/p99.9/max in milliseconds from one histogram (None when it is empty)."""
    if hist.get_total_count() == 0:
        return {**dict.fromkeys(PERCENTILES), "max_ms": None}
    out = {key: hist.get_value_at_percentile(q) / 1000 for key, q in PERCENTILES.items()}
    out["max_ms"] = hist.get_max_value() / 1000
    return out


def is_success(status: int) -> bool:
    return 0 < status < 400


@dataclass
class _Open:
    """A window still collecting samples."""
    offered: int = 0
    sent: int = 0
    qps: int = 0
    ok: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)
    latency: HdrHistogram = field(default_factory=new_histogram)
    lag: HdrHistogram = field(default_factory=new_histogram)
    late: int = 0


class Windows:
    """Collects samples, hands out finished windows in order, and sums up the run."""

    def __init__(self, late_threshold: float = 0.005, rate_at=None):
        self.late_threshold = late_threshold
        self.rate_at = rate_at  # the schedule's rate at a time, for the window's target rate
        self.open: dict[int, _Open] = defaultdict(_Open)
        self.next_index = 0  # the first window not yet finished
        self.finished: list[dict] = []
        self.total_latency = new_histogram()
        self.total_lag = new_histogram()
        self.totals = Counter()
        self.by_status: Counter = Counter()
        self.by_kind: Counter = Counter()
        self.first_sent = math.inf
        self.last_sent = -math.inf

    def add(self, samples) -> None:
        for intended, sent, done, status, kind in samples:
            w = self.open[max(self.next_index, math.floor(intended))]
            w.offered += 1
            if sent is not None:
                s = self.open[max(self.next_index, math.floor(sent))]
                s.sent += 1
                lag = max(0.0, sent - intended)
                record_us(w.lag, lag)
                if lag > self.late_threshold:
                    w.late += 1
                self.first_sent = min(self.first_sent, sent)
                self.last_sent = max(self.last_sent, sent)
            if status or kind == "timeout":
                record_us(w.latency, done - intended)
            if is_success(status):
                w.ok += 1
                self.open[max(self.next_index, math.floor(done))].qps += 1
            elif status:
                w.by_status[str(status)] += 1
            else:
                w.by_kind[kind] += 1

    def finish_until(self, watermark: float) -> list[dict]:
        """Close every window that ends at or before ``watermark``; returns them in order."""
        out = []
        if watermark == math.inf:  # every sample is in: close what holds any
            watermark = max(self.open, default=self.next_index - 1) + 1
        while self.next_index + 1 <= watermark:
            out.append(self._close(self.next_index))
            self.next_index += 1
        return out

    def finish_all(self) -> list[dict]:
        return self.finish_until(math.inf)

    def _close(self, index: int) -> dict:
        w = self.open.pop(index, None) or _Open()
        self.total_latency.add(w.latency)
        self.total_lag.add(w.lag)
        self.totals.update(offered=w.offered, sent=w.sent, qps=w.qps, ok=w.ok, late=w.late)
        self.by_status.update(w.by_status)
        self.by_kind.update(w.by_kind)
        window = {
            "window": index, "t": index,
            "target_rps": None if self.rate_at is None else round(self.rate_at(index + 0.5), 3),
            "offered_rps": w.offered, "sent_rps": w.sent, "qps": w.qps,
            "sr": None if w.offered == 0 else round(w.ok / w.offered, 6),
            "errors": sum(w.by_status.values()) + sum(w.by_kind.values()),
            "errors_by_status": dict(w.by_status), "errors_by_kind": dict(w.by_kind),
            **latency_fields(w.latency),
            "lag_p99_ms": _lag_ms(w.lag, 99.0), "lag_max_ms": _lag_ms(w.lag, None), "late": w.late,
        }
        self.finished.append(window)
        return window

    def summary(self, elapsed: float, cpu_seconds: float | None = None) -> dict:
        t = self.totals
        span = self.last_sent - self.first_sent if t["sent"] > 1 else 0.0
        flagged = flag_windows(self.finished, self.late_threshold)
        return {
            "summary": True, "duration_s": round(elapsed, 3), "windows": len(self.finished),
            "offered": t["offered"], "sent": t["sent"], "ok": t["ok"],
            # n sends spread over a span s: n-1 gaps, so the rate is (n-1)/s
            "sent_rate": round((t["sent"] - 1) / span, 3) if span > 0 else None,
            "qps": round(t["qps"] / elapsed, 3) if elapsed > 0 else None,
            "sr": None if t["offered"] == 0 else round(t["ok"] / t["offered"], 6),
            "errors": sum(self.by_status.values()) + sum(self.by_kind.values()),
            "errors_by_status": dict(self.by_status), "errors_by_kind": dict(self.by_kind),
            **latency_fields(self.total_latency),
            "lag_p99_ms": _lag_ms(self.total_lag, 99.0), "lag_max_ms": _lag_ms(self.total_lag, None),
            "late": t["late"],
            "cpu_s": None if cpu_seconds is None else round(cpu_seconds, 3),
            "cpu_us_per_request": None if not (cpu_seconds and t["sent"]) else round(cpu_seconds / t["sent"] * 1e6, 1),
            "slow_windows": flagged["slow"], "generator_bound_windows": flagged["generator_bound"],
        }


def _lag_ms(hist: HdrHistogram, q: float | None) -> float | None:
    if hist.get_total_count() == 0:
        return None
    return (hist.get_max_value() if q is None else hist.get_value_at_percentile(q)) / 1000


def flag_windows(windows: list[dict], late_threshold: float) -> dict[str, list[int]]:
    """Windows to mark in the report.

    ``slow``: p99 above three times the median window p50 (a stall or overload, server side);
    ``generator_bound``: more than 1% of the window's sends went out later than the threshold,
    so its figures say more about the generator than about the server.
    """
    p50s = [w["p50_ms"] for w in windows if w["p50_ms"] is not None]
    base = statistics.median(p50s) if p50s else None
    slow = [w["window"] for w in windows
            if base is not None and w["p99_ms"] is not None and w["p99_ms"] > 3 * base]
    bound = [w["window"] for w in windows if w["sent_rps"] and w["late"] > 0.01 * w["sent_rps"]]
    return {"slow": slow, "generator_bound": bound}
