"""MLPerf mode: the same HTTP target driven by the real MLPerf LoadGen in its Server scenario.

LoadGen (package ``mlcommons-loadgen``, module ``mlperf_loadgen``) decides when each query is
issued (Poisson arrivals at the target QPS), checks the latency bound at its percentile, the
minimum duration and query count and early stopping, and writes its summary and detail logs.
Our part is the system under test: each query becomes one HTTP request, sent from an asyncio
loop in its own thread (the lean client of ``client.loadgen.fasthttp`` for http://, aiohttp otherwise), and is completed when the answer arrives. The same latencies also go
into an HdrHistogram of ours, so both views can be put side by side.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from client.loadgen.fasthttp import Pool
from client.loadgen.target import Target
from client.loadgen.windows import is_success, latency_fields, new_histogram, record_us


@dataclass(frozen=True)
class MlperfConfig:
    target_qps: float
    latency_ms: float = 100.0  # the bound at the percentile below
    percentile: float = 0.99
    min_duration_s: float = 60.0
    min_queries: int = 100
    max_duration_s: float = 0.0  # 0: no cap beyond LoadGen's own
    find_peak: bool = False
    log_dir: str = "mlperf-logs"
    seed: int | None = None  # schedule seed; None keeps LoadGen's default


class _HttpSut:
    """Sends LoadGen's queries as HTTP requests and reports them complete."""

    def __init__(self, target: Target, lg):
        self.target, self.lg = target, lg
        self.body = target.bodies(0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.session: aiohttp.ClientSession | None = None
        self.latency = new_histogram()
        self.ok = self.failed = 0
        self.lock = threading.Lock()

    def __enter__(self) -> "_HttpSut":
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self.loop).result()
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    async def _open(self) -> None:
        if self.target.url.startswith("http://"):
            self.pool = Pool(self.target.url, self.target.method, self.target.headers, self.target.timeout)
            self.session = None
        else:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                                 timeout=aiohttp.ClientTimeout(total=self.target.timeout))

    async def _close(self) -> None:
        if self.session is not None:
            await self.session.close()
        else:
            self.pool.close()

    async def _request(self, body: bytes | None) -> int:
        if self.session is None:
            return await self.pool.request(body)
        async with self.session.request(self.target.method, self.target.url, data=body,
                                        headers=self.target.headers) as resp:
            await resp.read()
            return resp.status

    async def _send(self, query_id: int, index: int, issued: float) -> None:
        status = 0
        try:
            status = await self._request(self.body(index))
        except Exception:  # counted as a failure below; LoadGen still needs the completion
            pass
        done = time.monotonic()
        with self.lock:
            record_us(self.latency, done - issued)
            if is_success(status):
                self.ok += 1
            else:
                self.failed += 1
        self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(query_id, 0, 0)])

    def issue(self, samples) -> None:
        issued = time.monotonic()
        for s in samples:
            asyncio.run_coroutine_threadsafe(self._send(s.id, s.index, issued), self.loop)

    def flush(self) -> None:
        pass


def _settings(lg, cfg: MlperfConfig):
    s = lg.TestSettings()
    s.scenario = lg.TestScenario.Server
    s.mode = lg.TestMode.FindPeakPerformance if cfg.find_peak else lg.TestMode.PerformanceOnly
    s.server_target_qps = cfg.target_qps
    s.server_target_latency_ns = int(cfg.latency_ms * 1e6)
    s.server_target_latency_percentile = cfg.percentile
    s.min_duration_ms = int(cfg.min_duration_s * 1000)
    s.min_query_count = cfg.min_queries
    if cfg.max_duration_s:
        s.max_duration_ms = int(cfg.max_duration_s * 1000)
    if cfg.seed is not None:
        s.schedule_rng_seed = cfg.seed
    return s


def run_mlperf(target: Target, cfg: MlperfConfig) -> dict:
    """Runs LoadGen against the target; returns the parsed verdict beside our own figures."""
    import mlperf_loadgen as lg

    out = Path(cfg.log_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = False
    with _HttpSut(target, lg) as sut:
        handle = lg.ConstructSUT(sut.issue, sut.flush)
        # One "sample" per body index; LoadGen only needs their count for an HTTP target.
        qsl = lg.ConstructQSL(1024, 1024, lambda idx: None, lambda idx: None)
        try:
            lg.StartTestWithLogSettings(handle, qsl, _settings(lg, cfg), log)
        finally:
            lg.DestroyQSL(qsl)
            lg.DestroySUT(handle)
        ours = {f"ours_{k}": v for k, v in latency_fields(sut.latency).items()}
        ours.update(ours_ok=sut.ok, ours_failed=sut.failed)
    result = parse_summary((out / "mlperf_log_summary.txt").read_text())
    result.update(ours, log_dir=str(out.resolve()),
                  summary_log=str((out / "mlperf_log_summary.txt").resolve()),
                  detail_log=str((out / "mlperf_log_detail.txt").resolve()))
    return result


_NUMBER = {
    "scheduled_qps": r"Scheduled samples per second\s*:\s*([\d.e+-]+)",
    "completed_qps": r"Completed samples per second\s*:\s*([\d.e+-]+)",
    "min_latency_ns": r"Min latency \(ns\)\s*:\s*(\d+)",
    "max_latency_ns": r"Max latency \(ns\)\s*:\s*(\d+)",
    "mean_latency_ns": r"Mean latency \(ns\)\s*:\s*(\d+)",
    "p50_latency_ns": r"50\.00 percentile latency \(ns\)\s*:\s*(\d+)",
    "p90_latency_ns": r"90\.00 percentile latency \(ns\)\s*:\s*(\d+)",
    "p99_latency_ns": r"99\.00 percentile latency \(ns\)\s*:\s*(\d+)",
    "p999_latency_ns": r"99\.90 percentile latency \(ns\)\s*:\s*(\d+)",
    "target_latency_ns": r"target_latency \(ns\)\s*:\s*(\d+)",
    "early_stopping_p99_latency_ns": r"Early stopping 99\.00th percentile estimate\s*:\s*(\d+)",
}
_YES_NO = {
    "min_duration_satisfied": r"Min duration satisfied\s*:\s*(\w+)",
    "min_queries_satisfied": r"Min queries satisfied\s*:\s*(\w+)",
    "early_stopping_satisfied": r"Early stopping satisfied\s*:\s*(\w+)",
    "latency_constraint_satisfied": r"Performance constraints satisfied\s*:\s*(\w+)",
}


def parse_summary(text: str) -> dict:
    """LoadGen's summary log as a dict: the verdict, why, and its figures (latencies in ms too)."""
    verdict = re.search(r"Result is\s*:\s*(\w+)", text)
    out: dict = {"verdict": verdict.group(1) if verdict else "UNKNOWN"}
    scenario = re.search(r"Scenario\s*:\s*(.+)", text)
    out["scenario"] = scenario.group(1).strip() if scenario else None
    for key, pattern in _NUMBER.items():
        m = re.search(pattern, text)
        if m:
            out[key] = float(m.group(1)) if "." in m.group(1) or "e" in m.group(1) else int(m.group(1))
            if key.endswith("_ns"):
                out[key[:-3] + "_ms"] = out[key] / 1e6
    for key, pattern in _YES_NO.items():
        m = re.search(pattern, text)
        if m:
            out[key] = m.group(1).lower() == "yes"
    out["reasons"] = _reasons(out)
    out["recommendations"] = _section(text, "Recommendations:")
    out["early_stopping"] = _section(text, "Early Stopping Result:")
    return out


def _section(text: str, header: str) -> list[str]:
    """The indented lines under ``header`` ("* a", " continued" joined into one item each)."""
    items, on = [], False
    for line in text.splitlines():
        if line.strip().startswith(header):
            on = True
            continue
        if on:
            if not line.startswith(" ") or not line.strip():
                break
            if line.strip().startswith("*") or not items:
                items.append(line.strip(" *"))
            else:
                items[-1] += " " + line.strip()
    return items


def _reasons(parsed: dict) -> list[str]:
    why = []
    if parsed.get("latency_constraint_satisfied") is False:
        why.append(f"the latency bound was not met at the percentile (p99 {parsed.get('p99_latency_ms')} ms "
                   f"> target {parsed.get('target_latency_ms')} ms) or the achieved QPS fell short")
    if parsed.get("min_duration_satisfied") is False:
        why.append("the run was shorter than the minimum duration")
    if parsed.get("min_queries_satisfied") is False:
        why.append("fewer queries than the minimum count were issued")
    if parsed.get("early_stopping_satisfied") is False:
        why.append("early stopping could not confirm the latency bound with the queries run")
    return why
