"""trainyard's service path against a minimal baseline, under the same gunicorn settings.

One run brings up a private stack (its own PostgreSQL database, a Redis queue in db 14, one
loopback port, one gunicorn worker count) and measures, in order:

1. ``POST /api/v0/new_task`` under closed-loop load on the baseline app (bench/baseline_app.py:
   parse JSON, insert one row, LPUSH one message) and on trainyard (``start.sh api``): same
   gunicorn.conf.py, same bind, same worker count, in ``--rounds`` alternating rounds (baseline,
   trainyard, trainyard, baseline, ...) so that other load on the machine hits both alike. No
   Celery worker runs; the queued messages are deleted afterwards and the rows go with the database.
2. ``GET /api/v0/tasks/<id>`` polls per second on trainyard (the default, light view), rotating
   over tasks created in step 1 (QUEUED behind thousands of others, so each poll also computes a
   queue position), against a hello-world route (the baseline app's ``GET /ping``) under the same
   gunicorn, in alternating rounds like step 1; after step 3 also over the finished dispatch tasks
   (no queue position), and the full view (``?view=full``) of those.
3. Dispatch latency on an idle worker (``start.sh worker``): sequential tiny tasks (epochs 1),
   each submitted once the previous one has finished; ``started_at - created_at`` from the task
   JSON, ``started_at`` minus the client's send time, and (read from the private database)
   ``published_at`` in between.

    .venv/bin/python bench/bench_service.py                 # defaults: about 2-3 minutes
    .venv/bin/python bench/bench_service.py --seconds 30 --concurrency 12 --dispatch-tasks 50

Prints a table and writes bench/out/service-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import runpy
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.loadgen import Load, Result, merge, percentile, run_load  # noqa: E402
from bench.service_stack import BenchStack  # noqa: E402
from tests.service.stack import ADMIN_TOKEN  # noqa: E402
from tests.service.forms import form  # noqa: E402

OUT_DIR = ROOT / "bench" / "out"
BASELINE_APP = "bench.baseline_app:create_app()"
AUTH = (("Authorization", f"Bearer {ADMIN_TOKEN}"),)  # the stack's admin token (the baseline ignores it)
GOALS = {"throughput_ratio_min": 0.6, "p99_ratio_max": 2.0, "dispatch_p50_ms_max": 20.0,
         "poll_ratio_min": 0.5}
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def default_gunicorn_workers() -> int:
    """What gunicorn.conf.py picks on this machine when TRAINYARD_GUNICORN_WORKERS is unset."""
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))["default_workers"]()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=6, help="measured seconds per new_task round and app")
    p.add_argument("--rounds", type=int, default=3, help="alternating baseline/trainyard new_task rounds")
    p.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each load test")
    p.add_argument("--poll-seconds", type=float, default=8, help="measured seconds per status-poll test")
    p.add_argument("--poll-warmup", type=float, default=8,
                   help="unmeasured seconds before each poll test: long enough for every API process to have read "
                        "each polled task once, as a long-running API has (dao.poll_cache)")
    p.add_argument("--concurrency", type=int, default=8, help="closed-loop client processes")
    p.add_argument("--max-requests", type=int, default=50_000, help="cap per load test (all clients)")
    p.add_argument("--gunicorn-workers", type=int, default=None,
                   help="TRAINYARD_GUNICORN_WORKERS for both apps (default: gunicorn.conf.py's own)")
    p.add_argument("--dispatch-tasks", type=int, default=30, help="sequential tasks for dispatch latency")
    p.add_argument("--dispatch-warmup", type=int, default=3, help="unmeasured tasks first (imports)")
    p.add_argument("--poll-only", action="store_true",
                   help="step 2 alone: one new_task round on trainyard to make QUEUED tasks, then the "
                        "alternating poll / hello-world rounds (about a minute)")
    p.add_argument("--out", type=Path, default=None, help="JSON file (default bench/out/service-<time>.json)")
    return p.parse_args(argv)


def task_body() -> bytes:
    """The seed's form as a dl_ts of one epoch on the demo dataset."""
    return json.dumps(form(epochs=1)).encode()


def new_task_load(url: str) -> Load:
    return Load(url=url, method="POST", paths=("/api/v0/new_task",), body=task_body(),
                headers=(("Content-Type", "application/json"), *AUTH), expect=(201,))


def measure(stack: BenchStack, label: str, load: Load, args: argparse.Namespace, seconds: float,
            keep_bodies: bool = False, warmup: float | None = None) -> Result:
    """Warm up, then one measured load test; adds the server's CPU ms per answered request."""
    run_load(load, args.concurrency, args.warmup if warmup is None else warmup, args.max_requests)
    cpu_before = stack.cpu_seconds(label)
    result = run_load(load, args.concurrency, seconds, args.max_requests, keep_bodies=keep_bodies)
    cpu = stack.cpu_seconds(label) - cpu_before
    result.server_cpu_ms_per_req = round(cpu * 1000 / max(1, result.requests), 3)
    return result


def round_order(rounds: int) -> list[str]:
    """baseline, trainyard, trainyard, baseline, ...: a drift in machine load hits both alike."""
    pairs = [("baseline", "trainyard") if i % 2 == 0 else ("trainyard", "baseline") for i in range(rounds)]
    return [app for pair in pairs for app in pair]


def serve_and_measure(stack: BenchStack, app: str, args: argparse.Namespace) -> Result:
    """Start one app's gunicorn, load its new_task, stop it."""
    label, spec = ("baseline", BASELINE_APP) if app == "baseline" else ("api", None)
    stack.start_api(label, spec)
    try:
        return measure(stack, label, new_task_load(stack.url), args, args.seconds,
                       keep_bodies=app == "trainyard")
    finally:
        stack.stop(label)


def new_task_rounds(stack: BenchStack, args: argparse.Namespace) -> dict[str, list[Result]]:
    results: dict[str, list[Result]] = {"baseline": [], "trainyard": []}
    for app in round_order(args.rounds):
        results[app].append(serve_and_measure(stack, app, args))
    return results


def round_ratios(results: dict[str, list[Result]]) -> list[dict]:
    return [{"throughput": round(t.rps / b.rps, 3), "p99": round(t.p99_ms / b.p99_ms, 3)}
            for b, t in zip(results["baseline"], results["trainyard"])]


def task_ids(result: Result, limit: int = 2000) -> list[str]:
    return [json.loads(body)["task_form"]["task_id"] for body in result.bodies[:limit]]


def poll_load(url: str, ids: list[str], query: str = "") -> Load:
    return Load(url=url, method="GET", paths=tuple(f"/api/v0/tasks/{i}{query}" for i in ids), body=None,
                headers=AUTH, expect=(200,))


def hello_load(url: str) -> Load:
    return Load(url=url, method="GET", paths=("/ping",), body=None, headers=(), expect=(200,))


def poll_rounds(stack: BenchStack, ids: list[str], args: argparse.Namespace) -> dict[str, list[Result]]:
    """Polls of trainyard's light view against the hello-world route, alternating rounds; each
    app's gunicorn started for its round and stopped after."""
    results: dict[str, list[Result]] = {"baseline": [], "trainyard": []}
    for app in round_order(args.rounds):
        label, spec = ("baseline", BASELINE_APP) if app == "baseline" else ("api", None)
        load = hello_load(stack.url) if app == "baseline" else poll_load(stack.url, ids)
        stack.start_api(label, spec)
        try:
            results[app].append(measure(stack, label, load, args, args.poll_seconds, warmup=args.poll_warmup))
        finally:
            stack.stop(label)
    return results


def parse_time(value: str) -> float:
    return dt.datetime.fromisoformat(value).timestamp()


def wait_terminal(session: requests.Session, url: str, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        task = session.get(f"{url}/api/v0/tasks/{task_id}", timeout=30).json()
        if task["status"] in TERMINAL:
            return task
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {task_id} stuck: {task}")
        time.sleep(0.05)


def dispatch_one(session: requests.Session, url: str, body: bytes) -> dict:
    """Submit one task to an idle worker and wait for its end; returns its dispatch times in ms."""
    sent = time.time()
    reply = session.post(f"{url}/api/v0/new_task", data=body,
                         headers={"Content-Type": "application/json", **dict(AUTH)}, timeout=30)
    reply.raise_for_status()
    task = wait_terminal(session, url, reply.json()["task_form"]["task_id"])
    if not task.get("started_at"):
        raise RuntimeError(f"task never started: {task}")
    started = parse_time(task["started_at"])
    return {"task_id": task["task_id"], "status": task["status"],
            "created_to_started_ms": (started - parse_time(task["created_at"])) * 1000,
            "sent_to_started_ms": (started - sent) * 1000}


def wait_worker_idle(stack: BenchStack, jobs_done: int, timeout: float = 60) -> None:
    """Until the worker has logged the end of ``jobs_done`` Celery jobs: its row is final before
    the job returns, and the worker takes the next message only after that (acks_late)."""
    deadline = time.monotonic() + timeout
    while stack.log("worker").count(" succeeded in ") < jobs_done:
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker still busy:\n{stack.log('worker')[-2000:]}")
        time.sleep(0.02)
    time.sleep(0.05)  # the ack, and back to waiting on the queue


def dispatch_phase(stack: BenchStack, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Dispatch latencies, and the ids of the finished tasks."""
    stack.start_worker()
    session, body = requests.Session(), task_body()
    session.headers.update(dict(AUTH))
    for i in range(args.dispatch_warmup):
        dispatch_one(session, stack.url, body)
        wait_worker_idle(stack, i + 1)
    runs = []
    for i in range(args.dispatch_tasks):
        runs.append(dispatch_one(session, stack.url, body))
        wait_worker_idle(stack, args.dispatch_warmup + i + 1)
    add_publish_times(stack, runs)
    return summarise_dispatch(runs), [r["task_id"] for r in runs]


def add_publish_times(stack: BenchStack, runs: list[dict]) -> None:
    """Split each dispatch at ``published_at`` (set by the API before its commit), read from the
    private database because the task JSON does not show it."""
    import psycopg

    with psycopg.connect(stack.psycopg_url()) as conn:
        rows = conn.execute("SELECT id, created_at, published_at, started_at FROM tasks WHERE id = ANY(%s)",
                            ([r["task_id"] for r in runs],)).fetchall()
    times = {row[0]: row[1:] for row in rows}
    for r in runs:
        created, published, started = times[r["task_id"]]
        if published is not None:
            r["created_to_published_ms"] = (published - created).total_seconds() * 1000
            r["published_to_started_ms"] = (started - published).total_seconds() * 1000


def summarise_dispatch(runs: list[dict]) -> dict:
    out: dict = {"tasks": len(runs), "statuses": sorted({r["status"] for r in runs})}
    for key in ("created_to_started_ms", "sent_to_started_ms", "created_to_published_ms",
                "published_to_started_ms"):
        values = [r[key] for r in runs if key in r]
        if not values:
            continue
        out[key] = {"p50": round(percentile(values, 50), 2), "p90": round(percentile(values, 90), 2),
                    "max": round(max(values), 2)}
    return out


def ratios(baseline: Result, trainyard: Result) -> dict:
    cpu = trainyard.server_cpu_ms_per_req / baseline.server_cpu_ms_per_req
    return {"throughput": round(trainyard.rps / baseline.rps, 3),
            "p99": round(trainyard.p99_ms / baseline.p99_ms, 3),
            "p50": round(trainyard.p50_ms / baseline.p50_ms, 3),
            "server_cpu_per_request": round(cpu, 3)}


def verdicts(r: dict, dispatch: dict, poll: dict) -> dict:
    return {
        "poll_ratio_ok": poll["throughput"] >= GOALS["poll_ratio_min"],
        "throughput_ratio_ok": r["throughput"] >= GOALS["throughput_ratio_min"],
        "p99_ratio_ok": r["p99"] <= GOALS["p99_ratio_max"],
        "dispatch_p50_ok": dispatch["created_to_started_ms"]["p50"] <= GOALS["dispatch_p50_ms_max"],
    }


def ok(flag: bool) -> str:
    return "OK" if flag else "MISSED"


def print_loads(report: dict) -> None:
    rows = [("new_task baseline", report["new_task_baseline"]),
            ("new_task trainyard", report["new_task_trainyard"]),
            ("GET /ping hello", report["hello_baseline"]),
            ("GET QUEUED task", report["poll_trainyard"]),
            ("GET SUCCEEDED task", report["poll_trainyard_finished"]),
            ("  ?view=full", report["poll_trainyard_finished_full"])]
    print(f"\n{'load test':<20}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'reqs':>8}{'fail':>6}"
          f"{'cpu ms/req':>12}")
    for name, r in rows:
        print(f"{name:<20}{r['rps']:>9.1f}{r['p50_ms']:>9.2f}{r['p90_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['requests']:>8}{r['failures']:>6}{r['server_cpu_ms_per_req']:>12.2f}")


def print_ratios(report: dict) -> None:
    r, g, v = report["ratios"], GOALS, report["verdicts"]
    print(f"\ntrainyard/baseline throughput {r['throughput']:.3f}x "
          f"(goal >= {g['throughput_ratio_min']}) {ok(v['throughput_ratio_ok'])}")
    print(f"trainyard/baseline p99        {r['p99']:.3f}x "
          f"(goal <= {g['p99_ratio_max']}) {ok(v['p99_ratio_ok'])}")
    print(f"trainyard/baseline server CPU per request {r['server_cpu_per_request']:.2f}x "
          "(gunicorn master + workers; steadier than req/s on a busy machine)")
    print("per-round trainyard/baseline: " + ", ".join(
        f"{x['throughput']:.2f}x req/s, {x['p99']:.2f}x p99" for x in report["round_ratios"]))
    p = report["poll_ratios"]
    print(f"poll (light view, QUEUED) / hello-world req/s {p['throughput']:.3f}x "
          f"(goal >= {g['poll_ratio_min']}) {ok(v['poll_ratio_ok'])}; server CPU per request "
          f"{p['server_cpu_per_request']:.2f}x; per round: "
          + ", ".join(f"{x['throughput']:.2f}x" for x in report["poll_round_ratios"]))


def print_dispatch(report: dict) -> None:
    d, v = report["dispatch"], report["verdicts"]
    lines = [("created->started", "created_to_started_ms"), ("sent->started", "sent_to_started_ms"),
             ("  API: created->published", "created_to_published_ms"),
             ("  commit+broker+worker: ->started", "published_to_started_ms")]
    print(f"\ndispatch on an idle worker ({d['tasks']} tasks, {', '.join(d['statuses'])}; "
          f"goal created->started p50 <= {GOALS['dispatch_p50_ms_max']:.0f} ms: {ok(v['dispatch_p50_ok'])})")
    for name, key in lines:
        if key in d:
            x = d[key]
            print(f"  {name:<34} p50 {x['p50']:6.1f} ms  p90 {x['p90']:6.1f} ms  max {x['max']:6.1f} ms")


def print_table(report: dict) -> None:
    print_loads(report)
    print_ratios(report)
    print_dispatch(report)


def settings_of(args: argparse.Namespace, workers: int) -> dict:
    return {"gunicorn_workers": workers, "concurrency": args.concurrency, "seconds": args.seconds,
            "rounds": args.rounds, "warmup": args.warmup, "poll_warmup": args.poll_warmup, "poll_seconds": args.poll_seconds,
            "cpus": os.cpu_count(), "load_avg_after": os.getloadavg()}


def run_poll_only(args: argparse.Namespace) -> dict:
    """Step 2 alone, on tasks made by one unmeasured-for-the-verdict new_task round."""
    workers = args.gunicorn_workers or default_gunicorn_workers()
    stack = BenchStack(gunicorn_workers=workers).create()
    try:
        made = serve_and_measure(stack, "trainyard", args)
        polled = poll_rounds(stack, task_ids(made), args)
        hello, polls = merge(polled["baseline"]), merge(polled["trainyard"])
    finally:
        stack.close()
    p = ratios(hello, polls)
    return {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": settings_of(args, workers), "queued_tasks": made.requests,
        "hello_baseline": hello.as_dict(), "poll_trainyard": polls.as_dict(), "poll_ratios": p,
        "poll_round_ratios": round_ratios(polled), "goals": GOALS,
        "verdicts": {"poll_ratio_ok": p["throughput"] >= GOALS["poll_ratio_min"]},
    }


def print_poll_only(report: dict) -> None:
    print(f"\n{report['queued_tasks']} QUEUED tasks; {'load test':<20}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'cpu ms/req':>12}")
    for name, key in (("GET /ping hello", "hello_baseline"), ("GET QUEUED task", "poll_trainyard")):
        r = report[key]
        print(f"{name:<20}{r['rps']:>9.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['server_cpu_ms_per_req']:>12.2f}")
    p, v = report["poll_ratios"], report["verdicts"]
    print(f"poll / hello-world req/s {p['throughput']:.3f}x (goal >= {GOALS['poll_ratio_min']}) "
          f"{ok(v['poll_ratio_ok'])}; server CPU per request {p['server_cpu_per_request']:.2f}x; per round: "
          + ", ".join(f"{x['throughput']:.2f}x" for x in report["poll_round_ratios"])
          + f"; load average after {report['settings']['load_avg_after']}")


def run(args: argparse.Namespace) -> dict:
    workers = args.gunicorn_workers or default_gunicorn_workers()
    stack = BenchStack(gunicorn_workers=workers).create()
    try:
        rounds = new_task_rounds(stack, args)
        baseline, trainyard = merge(rounds["baseline"]), merge(rounds["trainyard"])
        polled = poll_rounds(stack, task_ids(trainyard), args)
        hello, polls = merge(polled["baseline"]), merge(polled["trainyard"])
        stack.start_api("api")
        purged = stack.purge_queue()
        dispatch, finished_ids = dispatch_phase(stack, args)
        stack.stop("worker")
        polls_finished = measure(stack, "api", poll_load(stack.url, finished_ids), args, args.poll_seconds)
        polls_full = measure(stack, "api", poll_load(stack.url, finished_ids, "?view=full"), args,
                             args.poll_seconds)
    finally:
        stack.close()
    r, p = ratios(baseline, trainyard), ratios(hello, polls)
    return {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": settings_of(args, workers),
        "new_task_baseline": baseline.as_dict(), "new_task_trainyard": trainyard.as_dict(),
        "hello_baseline": hello.as_dict(), "poll_trainyard": polls.as_dict(),
        "poll_trainyard_finished": polls_finished.as_dict(), "poll_trainyard_finished_full": polls_full.as_dict(),
        "queue_messages_purged": purged, "dispatch": dispatch, "ratios": r, "poll_ratios": p,
        "round_ratios": round_ratios(rounds), "poll_round_ratios": round_ratios(polled),
        "goals": GOALS, "verdicts": verdicts(r, dispatch, p),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report = run_poll_only(args) if args.poll_only else run(args)
    (print_poll_only if args.poll_only else print_table)(report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.out or OUT_DIR / f"service-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
