"""``trainyard compare A B ...``: a table of the tasks' hyper-parameters and metrics, and one of the
paired tests of every two tasks tested on the same subjects."""

from __future__ import annotations

import click

from client.cli.common import api_call, client_of, echo_json, example, table
from client.compare import BASELINE_COLUMNS, PAIRED_COLUMNS, baseline_rows, cell, comparison, mark, paired_rows

LEGEND = ("* differs   ! differs, 95% intervals disjoint   ~ differs within overlapping intervals"
          "   (metric [95% interval]); tasks tested on the same subjects: see their paired tests")


@click.command(epilog=example("trainyard compare TASK2612011200000001 TASK2612011200000002",
                              "trainyard compare A B C --only-diff", "trainyard compare A B --json | jq ."))
@click.argument("task_ids", nargs=-1, required=True)
@click.option("--only-diff", is_flag=True, help="Only the rows where the tasks differ.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the task ids, every row, every pair.")
@click.pass_context
@api_call
def compare(ctx, task_ids, only_diff, as_json):
    """Compare tasks: hyper-parameters and metrics (with 95% intervals), differences marked, and
    paired tests (McNemar, paired bootstrap) of the tasks tested on the same subjects."""
    if len(task_ids) < 2:
        raise click.UsageError("compare needs at least two task ids")
    client = client_of(ctx)
    paired = client.paired_comparison(list(task_ids))  # first: the API checks the ids
    tasks = client.compare(list(task_ids))
    rows = comparison(tasks)
    if only_diff:
        rows = [r for r in rows if r.differs]
    if as_json:
        echo_json({"tasks": list(task_ids), "rows": [r.as_dict() for r in rows], "pairs": paired["pairs"],
                   "correction": paired["correction"], "correction_note": paired["correction_note"],
                   "baselines": {t["task_id"]: (t.get("result") or {}).get("standard_baseline") for t in tasks}})
        return
    body = [[mark(r), f"{r.section}.{r.name}" if r.section == "param_set" else r.name,
             *(cell(v, r.intervals[i] if r.intervals else None) for i, v in enumerate(r.values))] for r in rows]
    table(["", "", *task_ids], body)
    click.echo(LEGEND)
    table(PAIRED_COLUMNS, paired_rows(paired), title="Paired tests: a - b on the subjects both were tested on")
    if paired["correction_note"]:
        click.echo(paired["correction_note"])
    beside = baseline_rows(tasks)
    if beside:
        table(BASELINE_COLUMNS, beside, title="Each task against the standard baseline on its own test subjects")
