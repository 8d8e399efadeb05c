"""``trainyard datasets upload|ls|show|rm``."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from client.api import ApiError
from client.cli.common import EXIT_ERROR, api_call, client_of, echo_json, example, table, terminal
from contracts.statuses import DATASET_KINDS


@click.group(epilog=example("trainyard datasets upload subjects.npz --name my_cohort", "trainyard datasets ls"))
def datasets():
    """Datasets: upload, list, show, delete."""


def _upload(client, path: str, name: str | None, kind: str | None) -> dict:
    if not terminal():
        return client.upload_dataset(path, name, kind)
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn()) as bar:
        job = bar.add_task(f"upload {escape(path)}", total=None)
        return client.upload_dataset(path, name, kind,
                                     progress=lambda sent, total: bar.update(job, completed=sent, total=total))


def _rejected(exc: ApiError, as_json: bool) -> None:
    if as_json:
        echo_json({"error": exc.status, "msg": exc.msg, "problems": exc.errors})
    else:
        click.echo(f"Error: HTTP {exc.status}: {exc.msg}", err=True)
        for problem in exc.errors:
            click.echo(f"  - {problem.get('field')}: {problem.get('problem')}", err=True)
    sys.exit(EXIT_ERROR)


@datasets.command(epilog=example("trainyard datasets upload subjects.npz",
                                 "trainyard datasets upload cohort.zip --name cohort_2026",
                                 "trainyard datasets upload shapes.zip --kind image --wait"))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", help="Its name (default: the file name's stem).")
@click.option("--kind", type=click.Choice(list(DATASET_KINDS)),
              help="image or detection: MXNet image or object-detection data (validated by a worker).")
@click.option("--wait", "wait_", is_flag=True, help="Image or detection data: wait until the worker has validated it.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def upload(ctx, file, name, kind, wait_, as_json):
    """Upload a dataset file (.npz or DPABI .zip; image archives with --kind image).

    A progress bar shows on a terminal. A rejected file lists each of its problems and exits 1."""
    client = client_of(ctx)
    try:
        row = _upload(client, file, name, kind)["dataset"]
    except ApiError as exc:
        if exc.status == 422:
            _rejected(exc, as_json)
        raise
    if wait_ and row.get("status") == "VALIDATING":
        row = client.wait_dataset(row["name"])
    if as_json:
        echo_json(row)
    else:
        click.echo(f"{row['name']} {row.get('status')}: {row.get('n_subjects', '?')} subjects")
    if row.get("status") == "REJECTED":
        _rejected(ApiError(422, "the worker rejected the dataset",
                           [{"field": "file", "problem": p} for p in row.get("problems") or []]), as_json)


@datasets.command("ls", epilog=example("trainyard datasets ls", "trainyard datasets ls --json"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def ls(ctx, as_json):
    """List datasets."""
    rows = client_of(ctx).datasets()
    if as_json:
        for row in rows:
            echo_json(row)
        return
    table(["name", "kind", "status", "subjects", "regions", "classes", "created"],
          [[r["name"], r.get("kind"), r.get("status"), r.get("n_subjects"), r.get("n_regions"),
            ",".join(map(str, r.get("class_names") or [])), r.get("created_at")] for r in rows])


@datasets.command(epilog=example("trainyard datasets show A_181210_140_SZ_sfMRI_AAL90"))
@click.argument("name")
@click.pass_context
@api_call
def show(ctx, name):
    """A dataset's metadata (JSON)."""
    click.echo(json.dumps(client_of(ctx).dataset(name), indent=2))


@datasets.command(epilog=example("trainyard datasets rm my_cohort", "trainyard datasets rm my_cohort --yes"))
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (asked only on a terminal).")
@click.pass_context
@api_call
def rm(ctx, name, yes):
    """Delete a dataset (refused while a queued or running task uses it)."""
    if not yes and sys.stdin.isatty() and not click.confirm(f"delete dataset {name!r}?"):
        sys.exit(EXIT_ERROR)
    click.echo(client_of(ctx).delete_dataset(name).get("msg", f"dataset {name!r} deleted"))
