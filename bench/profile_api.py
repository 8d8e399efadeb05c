"""Where one API request's time goes: cProfile around Flask's test client, in this process,
against a private PostgreSQL database and Redis queue (no gunicorn, no HTTP, no load).

    .venv/bin/python bench/profile_api.py --requests 300 --top 30

Profiles ``POST /api/v0/new_task`` and then ``GET /api/v0/tasks/<id>`` (QUEUED tasks), and
prints the mean wall and CPU time per request and the functions with the most cumulative time.
``--auth off`` runs the app with TRAINYARD_AUTH=off, to see what the token check costs (the
requests carry the stack's admin token either way).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_service import task_body  # noqa: E402
from bench.service_stack import BenchStack  # noqa: E402


def point_settings_at(stack: BenchStack) -> None:
    from dao.db import reset_engines
    from contracts.settings import reset_settings
    from tasks.celery_app import reset_celery

    os.environ.update({k: v for k, v in stack.env.items() if k.startswith("TRAINYARD_")})
    reset_settings()
    reset_engines()
    reset_celery()


def timed(label: str, calls, n: int, top: int, sort: str) -> list:
    """Warm up, then profile ``n`` calls of ``calls(i)``; prints the mean and the hot spots."""
    for i in range(20):
        calls(i)
    cpu0 = time.process_time()
    plain = [calls(i) for i in range(n)]
    cpu = (time.process_time() - cpu0) / n * 1000
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    out = plain + [calls(i) for i in range(n)]
    profiler.disable()
    print(f"\n=== {label}: {n} requests, {cpu:.3f} ms CPU each (unprofiled), "
          f"{(time.perf_counter() - t0) / n * 1000:.2f} ms wall each (profiled)")
    pstats.Stats(profiler).strip_dirs().sort_stats(sort).print_stats(top)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime, ...)")
    p.add_argument("--auth", choices=("on", "off"), default="on", help="TRAINYARD_AUTH for the profiled app")
    args = p.parse_args(argv)
    stack = BenchStack(gunicorn_workers=1).create()
    try:
        stack.env["TRAINYARD_AUTH"] = args.auth
        point_settings_at(stack)
        from app import create_app

        client = create_app().test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {stack.env['TRAINYARD_ADMIN_TOKEN']}"
        body = task_body()

        def post(_i: int) -> str:
            reply = client.post("/api/v0/new_task", data=body, content_type="application/json")
            assert reply.status_code == 201, reply.get_data(as_text=True)
            return reply.get_json()["task_form"]["task_id"]

        ids = timed("POST /api/v0/new_task", post, args.requests, args.top, args.sort)

        def get(i: int) -> None:
            reply = client.get(f"/api/v0/tasks/{ids[i % len(ids)]}")
            assert reply.status_code == 200, reply.get_data(as_text=True)

        timed("GET /api/v0/tasks/<id>", get, args.requests, args.top, args.sort)
    finally:
        from dao.db import reset_engines

        reset_engines()
        stack.close()


if __name__ == "__main__":
    main()
