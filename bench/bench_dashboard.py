"""Time to interactive of the dashboard's experiments page over a project of many tasks.

Starts a real API (tests/service/stack.py: its own PostgreSQL database, no worker), inserts
``--tasks`` finished tasks through dao/ (task_queries.insert_new_task, with results carrying
metrics and intervals), then loads /ui/experiments in Debian's chromium ``--loads`` times per
view and reports the median and worst time from navigation start to the page's ready mark
(``performance.mark('trainyard-ready')``: the first page of rows drawn, the controls wired),
plus the time to fetch and draw the next page through the listing's cursor.

    .venv/bin/python bench/bench_dashboard.py              # 5,000 tasks, ~1 minute on 2 cores
    .venv/bin/python bench/bench_dashboard.py --tasks 20000 --loads 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.service.dashboard_browser import Dashboard, chromium  # noqa: E402
from tests.service.forms import form  # noqa: E402
from tests.service.stack import running_stack  # noqa: E402

PROJECT = "PROJ_BENCH"
VIEWS = {"newest first": "/ui/experiments", "by test_accuracy": "/ui/experiments?sort=test_accuracy"}


def _result(rng: random.Random) -> dict:
    acc = rng.uniform(0.4, 0.95)
    return {"test_accuracy": acc, "test_accuracy_low": acc - 0.15, "test_accuracy_high": min(acc + 0.1, 1.0),
            "test_roc_auc": rng.uniform(0.4, 1.0), "best_val_loss": rng.uniform(0.3, 0.8), "epochs_done": 20,
            "test_on_seen_subjects": False}


def insert_tasks(n: int) -> None:
    from dao import task_queries
    from dao.db import session_scope

    rng, start = random.Random(0), dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    with session_scope() as session:
        for i in range(n):
            f = form(proj_id=PROJECT, task_name=f"sweep {i}", learning_rate=rng.choice([0.1, 0.05, 0.01]))
            at = start + dt.timedelta(seconds=i * 10)
            task_queries.insert_new_task(
                session, id=f"TASKBENCH{i:07d}", proj_id=PROJECT, proj_name="bench", task_name=f["task_name"],
                task_type="dl_ts", model="SGN", backend="torch", queue="bench", form=f, status="SUCCEEDED",
                epochs_total=20, epochs_done=20, result=_result(rng), created_at=at, updated_at=at,
                started_at=at, finished_at=at + dt.timedelta(seconds=60))


def measure(browser, url: str, token: str | None, path: str) -> tuple[float, float]:
    """(ms to the ready mark, ms to draw the next page via the cursor)."""
    d = Dashboard(browser, url, token)
    try:
        d.set_project(PROJECT)
        page = d.open(path)
        ready = page.evaluate("performance.getEntriesByName('trainyard-ready')[0].startTime")
        rows = page.locator("#tasks tbody tr").count()
        more = page.evaluate("""async () => {
            const t0 = performance.now();
            document.querySelector('#more').click();
            while (document.querySelectorAll('#tasks tbody tr').length <= %d) await new Promise(r => setTimeout(r, 5));
            return performance.now() - t0; }""" % rows)
        assert not d.errors, d.errors
        return ready, more
    finally:
        d.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=5000)
    ap.add_argument("--loads", type=int, default=5)
    args = ap.parse_args()
    with running_stack(workers=0, reaper=False) as stack:
        insert_tasks(args.tasks)
        token = getattr(stack, "token", None)
        report = {"tasks": args.tasks, "loads": args.loads, "load_average": os.getloadavg()[0]}
        with chromium() as browser:
            measure(browser, stack.url, token, VIEWS["newest first"])  # warm the API's caches
            for name, path in VIEWS.items():
                runs = [measure(browser, stack.url, token, path) for _ in range(args.loads)]
                ready, more = [r[0] for r in runs], [r[1] for r in runs]
                report[name] = {"ready_ms_median": round(statistics.median(ready)), "ready_ms_max": round(max(ready)),
                                "next_page_ms_median": round(statistics.median(more))}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
