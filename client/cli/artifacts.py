"""``trainyard download``: a task's model, plots and per-subject predictions."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from client.api import DOWNLOADS
from client.cli.common import EXIT_ERROR, api_call, client_of, echo_json, example


@click.command(epilog=example("trainyard download TASK2612011200000001 -o results/",
                              "trainyard download TASK2612011200000001 --only predictions --only plots"))
@click.argument("task_id")
@click.option("-o", "--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="The folder to write into (made when missing).")
@click.option("--only", "only", multiple=True, type=click.Choice(DOWNLOADS),
              help="model (final weights), best (best-validation weights), plots (curves, confusion), "
                   "predictions (CSV); repeat it; default all.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def download(ctx, task_id, out_dir, only, as_json):
    """Download a task's weights, plots and per-subject test predictions (CSV).

    What the task does not have (no best weights, no test set) is named and skipped; the exit
    code is 1 when nothing at all could be downloaded."""
    done = client_of(ctx).download(task_id, out_dir, tuple(only) or DOWNLOADS)
    if as_json:
        echo_json({k: {"path": str(v)} if isinstance(v, Path) else {"missing": v} for k, v in done.items()})
    else:
        for item, got in done.items():
            click.echo(f"{item}: {got}" if isinstance(got, Path) else f"{item}: not downloaded ({got})")
    if not any(isinstance(v, Path) for v in done.values()):
        sys.exit(EXIT_ERROR)
