"""``trainyard sweep FORM --grid param=v1,v2 ...``: a grid or random search as tasks sharing a
sweep id, followed together, ending with the leaderboard and the selection record."""

from __future__ import annotations

import sys

import click

from client.api import ApiError, Client
from client.cli.common import EXIT, api_call, client_of, echo_json, example, mode, table
from client.cli.follow import follow_many
from client.cli.tasks import interval_text
from client.sweep import BadGrid, parse_grid, short_name
from contracts.selection import DEFAULT_SORT, VALIDATION_METRICS, sort_warning
from contracts.statuses import TaskStatus

# The sweep's exit code is its worst task's: any FAILED → 10, else any STOPPED → 11, else 0.
WORST = (TaskStatus.FAILED.value, TaskStatus.STOPPED.value, TaskStatus.SUCCEEDED.value)


def _value(row: dict, path: str):
    node = row
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def leaderboard_rows(rows: list[dict], params: list[str], metric: str, scores: dict | None = None) -> list[list]:
    """The table's rows. A cross-validated task records a validation metric per fold: its cell is
    the sweep record's score, the mean over its folds (``scores``)."""
    return [[n + 1, r["task_id"], r["status"], *(_value(r, p) for p in params), _metric_cell(r, metric, scores or {})]
            for n, r in enumerate(rows)]


def _metric_cell(row: dict, metric: str, scores: dict) -> str:
    metrics = row.get("metrics") or {}
    if metric in metrics or scores.get(row["task_id"]) is None:
        return interval_text(metrics, metric)
    return f"{scores[row['task_id']]:.3f} (mean over folds)"


def by_fold_means(rows: list[dict], metric: str, scores: dict, descending: bool) -> list[dict]:
    """Cross-validated tasks, which the listing cannot order by a per-fold metric, ordered by
    their fold means (unscored last); rows that carry the metric themselves are left as listed."""
    if any(metric in (r.get("metrics") or {}) for r in rows) or not scores:
        return rows
    sign = -1 if descending else 1
    return sorted(rows, key=lambda r: (scores.get(r["task_id"]) is None, sign * (scores.get(r["task_id"]) or 0)))


def _selection(client: Client, sweep_id: str, metric: str | None) -> dict:
    """``{"selection": record, "scores": {task id: the number it was chosen on}}``, or
    ``{"selection": None, "selection_refused": why}`` for a sweep the API chooses nothing in
    (409: it mixes cross-validated and single-split tasks)."""
    try:
        record = client.sweep_selection(sweep_id, metric)
        return {"selection": record["selection"], "scores": {t["task_id"]: t["score"] for t in record["tasks"]}}
    except ApiError as exc:
        if exc.status != 409:
            raise
        return {"selection": None, "selection_refused": exc.msg}


def print_selection(record: dict) -> None:
    """The selection record: what was chosen, on what, from how many, and its test metrics."""
    selection = record["selection"]
    if selection is None:
        click.echo(f"selection: {record['selection_refused']}")
        return
    on = f"{selection['selected_on']} {selection['metric']} ({selection['direction']})"
    chosen = selection["chosen_task_id"]
    if chosen is None:
        click.echo(f"selection on {on}: no finished task records it, nothing chosen")
        return
    click.echo(f"selection on {on}: {chosen}, chosen from {selection['n_candidates']} finished tasks")
    rows = [[k, str(v["value"]) if isinstance(v["value"], int) else
             interval_text({k: v["value"], f"{k}_low": v["low"], f"{k}_high": v["high"]}, k)]
            for k, v in (selection["chosen_test"] or {}).items()]
    table(["metric", "value [95%]"], rows, title=f"test metrics of {chosen}, the sweep's one test estimate")


@click.command(epilog=example(
    "trainyard sweep form.yaml --grid learning_rate=0.01,0.05 --grid batch_size=8,16",
    "trainyard sweep form.yaml --grid learning_rate=0.001,0.01,0.1 --grid model=GNN,GAT --random 4 --seed 1",
    "trainyard sweep form.yaml --grid seed=0,1,2,3,4 --sort -best_val_accuracy --json"))
@click.argument("form_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--grid", "grids", multiple=True, required=True, metavar="PARAM=V1,V2,...",
              help="Values to try; a bare name is a param_set field (learning_rate), a dotted path or a "
                   "top-level field (model) is set as named. Repeat for a grid.")
@click.option("--random", "sample", type=int, help="Try only N combinations of the grid, drawn at random.")
@click.option("--seed", type=int, default=0, show_default=True, help="The random draw's seed.")
@click.option("--sort", default=DEFAULT_SORT, show_default=True,
              help="The leaderboard's order (the listing's sort keys). A validation metric is also what the "
                   "selection record chooses on; a test metric's order is flagged as biased.")
@click.option("--no-follow", is_flag=True, help="Submit, print the sweep id and task ids, and return.")
@click.option("--json", "as_json", is_flag=True,
              help="JSON lines: the sweep, each epoch, the leaderboard with the selection record.")
@click.pass_context
@api_call
def sweep(ctx, form_file, grids, sample, seed, sort, no_follow, as_json):
    """Run a hyper-parameter sweep: one task per combination, all sharing one sweep id.

    Exit code: 0 when every task SUCCEEDED, 10 when any FAILED, 11 when any STOPPED."""
    try:
        grid = parse_grid(list(grids))
    except BadGrid as exc:
        raise click.BadParameter(str(exc), param_hint="--grid") from None
    client = client_of(ctx)
    try:
        sweep_id, task_ids = client.sweep(Client.load_form(form_file), grid, sample, seed)
    except BadGrid as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        echo_json({"sweep_id": sweep_id, "task_ids": task_ids, "grid": grid})
    else:
        click.echo(f"sweep {sweep_id}: {len(task_ids)} tasks")
    if no_follow:
        if not as_json:
            click.echo("\n".join(task_ids))
        return
    final = follow_many(client, task_ids, mode(as_json))
    rows = client.leaderboard(sweep_id, sort)
    metric = sort.lstrip("+-")
    selection = _selection(client, sweep_id, metric if metric in VALIDATION_METRICS else None)
    if as_json:
        echo_json({"leaderboard": rows, "sweep_id": sweep_id, "sort": sort,
                   "selection_warning": sort_warning(sort), **selection})
    else:
        params = list(grid)
        scores = selection.get("scores") if metric == (selection.get("selection") or {}).get("metric") else None
        rows = by_fold_means(rows, metric, scores or {}, sort.startswith("-"))
        table(["rank", "task_id", "status", *map(short_name, params), f"{metric} [95%]"],
              leaderboard_rows(rows, params, metric, scores), title=f"leaderboard of sweep {sweep_id} by {sort}")
        if sort_warning(sort):
            click.echo(f"note: {sort_warning(sort)}")
        print_selection(selection)
    worst = next(s for s in WORST if s in final.values() or s == TaskStatus.SUCCEEDED.value)
    sys.exit(EXIT[worst])
