"""Latencies the test suite no longer judges by the clock: how long a stop takes, and how long a
tiny task waits for the embedded (filesystem) broker's polling. Each is reported as a ratio
against a baseline measured in the same run.

- stop: ``POST /stop`` on a RUNNING task until the API shows STOPPED, on PostgreSQL + Redis.
  Baseline: the lease's stop poll (0.25 s) plus one training batch (the epoch's seconds over its
  batches), the least a cooperative stop can take. README promises "within ~1 s".
- embedded dispatch: ``started_at - created_at`` of tiny sequential tasks on SQLite + the
  filesystem broker. Baseline: the configured TRAINYARD_BROKER_POLL_INTERVAL (0.05 s); at
  kombu's default of 1 s the ratio would be about 20× higher.

    .venv/bin/python bench/bench_lifecycle.py [--stops 5] [--tasks 50]

Needs what the service tests need (PostgreSQL and Redis on 127.0.0.1); writes
bench/out/lifecycle-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service.forms import form  # noqa: E402
from tests.service.stack import running_stack  # noqa: E402

LEASE_POLL_SECONDS = 0.25  # tasks.lease.Lease's default poll of the task's status
DEMO_TRAIN_SUBJECTS = 98  # 70% of the demo's 140 subjects: batches per epoch at batch_size 1


def seconds_between(a: str, b: str) -> float:
    return (dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)).total_seconds()


def measure_stops(rounds: int) -> dict:
    latencies, baselines = [], []
    with running_stack(workers=1, point_here=False) as s:
        for _ in range(rounds):
            task_id = s.submit(form(epochs=400, batch_size=1, enable_test=False))
            s.wait_task(task_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 1)
            epoch_seconds = s.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"][0]["seconds"]
            t0 = time.monotonic()
            s.post(f"/api/v0/tasks/{task_id}/stop")
            s.wait_task(task_id, statuses={"STOPPED"}, timeout=60)
            latencies.append(time.monotonic() - t0)
            baselines.append(LEASE_POLL_SECONDS + epoch_seconds / DEMO_TRAIN_SUBJECTS)
    return summary(latencies, baselines)


def measure_embedded_dispatch(tasks: int) -> dict:
    waits = []
    with running_stack("embedded", workers=1, point_here=False) as s:
        poll = float(s.env.get("TRAINYARD_BROKER_POLL_INTERVAL", "0.05"))
        for _ in range(tasks):
            done = s.wait_task(s.submit(form(epochs=1, batch_size=140, enable_test=False)), timeout=120)
            waits.append(seconds_between(done["created_at"], done["started_at"]))
    return summary(waits, [poll] * len(waits))


def summary(values: list[float], baselines: list[float]) -> dict:
    ratios = [v / b for v, b in zip(values, baselines)]
    return {"n": len(values), "p50_s": statistics.median(values), "max_s": max(values),
            "baseline_p50_s": statistics.median(baselines), "ratio_p50": statistics.median(ratios),
            "ratio_max": max(ratios), "values_s": values}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stops", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=50)
    args = parser.parse_args(argv)
    report = {"stop": measure_stops(args.stops), "embedded_dispatch": measure_embedded_dispatch(args.tasks)}
    for name, r in report.items():
        print(f"{name:18} n={r['n']:3}  p50 {r['p50_s'] * 1000:7.1f} ms  max {r['max_s'] * 1000:7.1f} ms  "
              f"baseline {r['baseline_p50_s'] * 1000:6.1f} ms  ratio p50 {r['ratio_p50']:5.1f}x  max {r['ratio_max']:5.1f}x")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"lifecycle-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
