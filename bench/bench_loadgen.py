"""Correctness benchmark of `trainyard loadgen` against a reference server whose latency is known.

The reference server (`trainyard reference-server`) answers after a delay uniform in
[delay - jitter, delay + jitter] (so its true p50 is ``delay`` and its true p99 is
``delay - jitter + 0.99 * 2 * jitter``) and stalls once, for 1 s, ``--stall-at`` seconds after
its first request. For each rate the benchmark runs the open-loop generator and reports:

- achieved send rate against the target (goal: within 1%);
- p50 / p99 of the windows away from the stall against the truth (goal: within 1 ms or 5%), and
  against what the server itself delivered (its own arrival-to-answer times): on a busy machine
  the server's event loop wakes late, which is latency the generator must report, not its error;
- max latency and p99 of the windows the stall spans (truth: about 1 s + delay), and whether the
  generator flagged those windows;
- the generator's CPU time per request (its sender processes) and its late sends.

Then, in the same run: Debian's `wrk` (closed loop) against a fresh server with the same stall,
to show how much of the stall it sees; the highest rate the generator holds within 1% here; and
MLPerf LoadGen's Server scenario against the open-loop generator at the same Poisson rate.

    .venv/bin/python bench/bench_loadgen.py                 # about 3 minutes
    .venv/bin/python bench/bench_loadgen.py --rates 200 1000 --duration 6 --no-wrk --no-mlperf

Output: a table on stdout and `bench/out/loadgen-<UTC time>.json` (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
TRAINYARD = str(Path(sys.executable).parent / "trainyard")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def reference(delay_ms: float, jitter_ms: float, stall_at: float | None, stats: dict | None = None):
    """Runs the reference server; on leaving, ``stats`` gets its ``/_stats`` (served latencies)."""
    stats = {} if stats is None else stats
    port = free_port()
    args = [TRAINYARD, "reference-server", "--port", str(port), "--delay-ms", str(delay_ms),
            "--jitter-ms", str(jitter_ms)]
    if stall_at is not None:
        args += ["--stall-at", str(stall_at), "--stall-seconds", "1"]
    proc = subprocess.Popen(args)
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        with contextlib.suppress(requests.RequestException):
            stats.update(requests.get(f"http://127.0.0.1:{port}/_stats", timeout=10).json())
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def loadgen(url: str, *args: str) -> tuple[list[dict], dict]:
    out = subprocess.run([TRAINYARD, "loadgen", url, "--json", *args], capture_output=True, text=True, timeout=600)
    if out.returncode not in (0, 3):
        raise RuntimeError(out.stderr)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return rows[:-1], rows[-1]


def open_loop(rate: float, args) -> dict:
    truth_p50 = args.delay_ms
    truth_p99 = args.delay_ms - args.jitter_ms + 0.99 * 2 * args.jitter_ms
    served: dict = {}
    with reference(args.delay_ms, args.jitter_ms, args.stall_at, served) as url:
        windows, s = loadgen(url, "--rate", str(rate), "--duration", str(args.duration))
    # the server's clock starts at its first request, ~half a gap after the generator's
    stall = (args.stall_at, args.stall_at + 1.0)
    spanned = [w["window"] for w in windows if w["window"] + 1 > stall[0] and w["window"] < stall[1] + 0.05]
    calm = [w for w in windows if w["window"] not in spanned and w["p50_ms"] is not None
            and w["window"] < args.duration and w["window"] >= 1]  # skip the first (connections warm up)
    p50 = statistics.median(w["p50_ms"] for w in calm)
    p99 = statistics.median(w["p99_ms"] for w in calm)
    served_p50, served_p99 = served_percentiles(served, {w["window"] for w in calm})
    return {
        "rate": rate, "sent_rate": s["sent_rate"], "sent_rate_error_pct": round(100 * (s["sent_rate"] / rate - 1), 3),
        "p50_ms": p50, "p50_truth_ms": truth_p50, "p99_ms": p99, "p99_truth_ms": round(truth_p99, 3),
        "p50_served_ms": served_p50, "p99_served_ms": served_p99,
        "stall_windows": spanned, "stall_max_ms": max((w["max_ms"] or 0) for w in windows if w["window"] in spanned),
        "stall_p99_ms": max((w["p99_ms"] or 0) for w in windows if w["window"] in spanned),
        "flagged_slow": s["slow_windows"], "stall_flagged": set(spanned) <= set(s["slow_windows"]) or
        bool(set(spanned) & set(s["slow_windows"])),
        "run_p99_ms": s["p99_ms"], "late": s["late"], "lag_p99_ms": s["lag_p99_ms"], "senders": s["senders"],
        "sender_cpu_us_per_request": s["sender_cpu_us_per_request"], "errors": s["errors"],
    }


def served_percentiles(stats: dict, calm_windows: set[int]) -> tuple[float | None, float | None]:
    """Median over calm windows of the p50/p99 the server itself delivered (arrival to answer)."""
    first = stats.get("first")
    by_window: dict[int, list[float]] = {}
    for arrived, latency in stats.get("served") or []:
        window = int(arrived - first)
        if window in calm_windows:
            by_window.setdefault(window, []).append(latency * 1000)
    if not by_window:
        return None, None
    qs = [statistics.quantiles(v, n=100, method="inclusive") for v in by_window.values() if len(v) > 1]
    return (round(statistics.median(q[49] for q in qs), 3), round(statistics.median(q[98] for q in qs), 3))


def wrk(args) -> dict | None:
    if not shutil.which("wrk"):
        return None
    with reference(args.delay_ms, args.jitter_ms, args.stall_at) as url:
        out = subprocess.run(["wrk", "-t2", f"-c{args.wrk_connections}", f"-d{int(args.duration)}s", "--latency", url],
                             capture_output=True, text=True, timeout=120).stdout
    pct = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)", out, re.M))
    lat = re.search(r"Latency\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {"connections": args.wrk_connections, "requests_per_s": float(rps.group(1)) if rps else None,
            "p50_ms": _ms(pct.get("50")), "p99_ms": _ms(pct.get("99")), "max_ms": _ms(lat.group(3)) if lat else None,
            "raw": out}


def _ms(text: str | None) -> float | None:
    if not text:
        return None
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]


def highest_rate(args) -> list[dict]:
    """Rates tried upward until the achieved send rate falls more than 1% short or >1% sends are late."""
    tried = []
    with reference(args.delay_ms, args.jitter_ms, None) as url:
        for rate in args.peak_rates:
            _, s = loadgen(url, "--rate", str(rate), "--duration", "5")
            ok = s["sent_rate"] and abs(s["sent_rate"] / rate - 1) <= 0.01 and s["late"] <= 0.01 * s["sent"]
            tried.append({"rate": rate, "sent_rate": s["sent_rate"], "late": s["late"], "senders": s["senders"],
                          "holds": bool(ok), "sender_cpu_us_per_request": s["sender_cpu_us_per_request"]})
            if not ok:
                break
    return tried


def mlperf_vs_open_loop(args) -> dict | None:
    try:
        import mlperf_loadgen  # noqa: F401
    except ImportError:
        return None
    rate = args.mlperf_rate
    with reference(args.delay_ms, args.jitter_ms, None) as url:
        _, ol = loadgen(url, "--rate", str(rate), "--duration", str(args.duration), "--schedule", "poisson")
        out = subprocess.run([TRAINYARD, "loadgen", url, "--json", "--mlperf", "--rate", str(rate), "--duration",
                              str(args.duration), "--mlperf-latency-ms", "100", "--mlperf-log-dir",
                              str(HERE / "out" / "mlperf")], capture_output=True, text=True, timeout=600)
    ml = json.loads(out.stdout.strip().splitlines()[-1])
    return {"rate": rate, "open_loop_p99_ms": ol["p99_ms"], "mlperf_p99_ms": ml.get("p99_latency_ms"),
            "mlperf_ours_p99_ms": ml.get("ours_p99_ms"), "verdict": ml["verdict"], "reasons": ml["reasons"],
            "mlperf_completed_qps": ml.get("completed_qps"), "open_loop_p50_ms": ol["p50_ms"],
            "mlperf_p50_ms": ml.get("p50_latency_ms")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[200, 1000, 2000])
    ap.add_argument("--duration", type=float, default=8)
    ap.add_argument("--delay-ms", type=float, default=20)
    ap.add_argument("--jitter-ms", type=float, default=2)
    ap.add_argument("--stall-at", type=float, default=4.0)
    ap.add_argument("--wrk-connections", type=int, default=50)
    ap.add_argument("--peak-rates", type=float, nargs="+", default=[1500, 2000, 2500, 3000, 4000])
    ap.add_argument("--mlperf-rate", type=float, default=200)
    ap.add_argument("--no-wrk", action="store_true")
    ap.add_argument("--no-peak", action="store_true")
    ap.add_argument("--no-mlperf", action="store_true")
    args = ap.parse_args()
    result = {"open_loop": [open_loop(r, args) for r in args.rates]}
    for r in result["open_loop"]:
        print(f"rate {r['rate']:>6}: sent {r['sent_rate']} ({r['sent_rate_error_pct']:+}%), p50 {r['p50_ms']} ms "
              f"(truth {r['p50_truth_ms']}), p99 {r['p99_ms']} ms (truth {r['p99_truth_ms']}, served {r['p99_served_ms']}), stall windows "
              f"{r['stall_windows']} p99 {r['stall_p99_ms']} max {r['stall_max_ms']} ms flagged {r['flagged_slow']}, "
              f"late {r['late']}, lag p99 {r['lag_p99_ms']} ms, {r['senders']} sender(s), "
              f"CPU {r['sender_cpu_us_per_request']} us/request", flush=True)
    if not args.no_wrk:
        result["wrk"] = wrk(args)
        if result["wrk"]:
            w = result["wrk"]
            print(f"wrk -c{w['connections']} (closed loop): {w['requests_per_s']} req/s, p50 {w['p50_ms']} ms, "
                  f"p99 {w['p99_ms']} ms, max {w['max_ms']} ms (same 1 s stall)", flush=True)
    if not args.no_peak:
        result["peak"] = highest_rate(args)
        held = [t["rate"] for t in result["peak"] if t["holds"]]
        print(f"highest rate held within 1%: {max(held) if held else 'none of'} {result['peak']}", flush=True)
    if not args.no_mlperf:
        result["mlperf"] = mlperf_vs_open_loop(args)
        if result["mlperf"]:
            m = result["mlperf"]
            print(f"MLPerf Server at {m['rate']} QPS: p99 {m['mlperf_p99_ms']} ms (LoadGen) vs {m['open_loop_p99_ms']} ms "
                  f"(open loop, Poisson); p50 {m['mlperf_p50_ms']} vs {m['open_loop_p50_ms']}; verdict {m['verdict']} "
                  f"{m['reasons']}", flush=True)
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"loadgen-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(result, indent=1, default=list))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
