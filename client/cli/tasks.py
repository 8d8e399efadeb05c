"""Task commands: submit (and follow), ls, show, epochs, stop, wait."""

from __future__ import annotations

import json
import sys

import click

from client.api import Client
from client.cli.common import EXIT, api_call, client_of, example, mode, table
from client.cli.follow import epoch_text, follow
from contracts.selection import sort_warning
from contracts.task_result import BASELINE_PREFIX

HEADLINE = ("test_accuracy", "test_balanced_accuracy", "test_roc_auc")
BASELINE_ACCURACY = f"{BASELINE_PREFIX}_accuracy"  # the standard baseline's, on the same test subjects


def interval_text(metrics: dict, key: str) -> str:
    """``0.850 [0.640, 0.948]``: a metric with its 95% interval when it has one."""
    value = metrics.get(key)
    if not isinstance(value, (int, float)):
        return "-"
    low, high = metrics.get(f"{key}_low"), metrics.get(f"{key}_high")
    bounds = f" [{low:.3f}, {high:.3f}]" if isinstance(low, (int, float)) and isinstance(high, (int, float)) else ""
    return f"{value:.3f}{bounds}"


def finish(client: Client, task_id: str, status: str, as_json: bool) -> None:
    """Prints the ended task and exits with its state's code."""
    task = client.task(task_id)
    if as_json:
        click.echo(json.dumps({"final": True, **task}))
    else:
        metrics = task.get("metrics") or {}
        shown = ", ".join(f"{k} {interval_text(metrics, k)}" for k in HEADLINE if k in metrics)
        click.echo(f"{task_id} {status}" + (f": {shown}" if shown else "") +
                   (f" ({task['error']})" if task.get("error") else ""))
    sys.exit(EXIT[status])


@click.command(epilog=example("trainyard submit form.yaml --follow", "trainyard submit form.json --json > run.jsonl"))
@click.argument("form_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--follow", "-f", "follow_", is_flag=True, help="Follow the task to its end; the exit code is its final state.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: the submit reply, each epoch, the final task.")
@click.pass_context
@api_call
def submit(ctx, form_file, follow_, as_json):
    """Submit a task form (JSON or YAML). Exit codes: 0 SUCCEEDED, 10 FAILED, 11 STOPPED, 1 rejected."""
    client = client_of(ctx)
    task_id = client.submit(Client.load_form(form_file))
    click.echo(json.dumps({"task_id": task_id}) if as_json else task_id)
    if follow_:
        finish(client, task_id, follow(client, task_id, mode(as_json)), as_json)


@click.command("ls", epilog=example("trainyard ls --status SUCCEEDED --sort -test_accuracy --limit 20",
                                    "trainyard ls --sweep-id SWEEP2612020600001A2B3C --json"))
@click.option("--status")
@click.option("--model")
@click.option("--proj-id")
@click.option("--task-type")
@click.option("--sweep-id", help="Only the tasks of this sweep.")
@click.option("--sort", help="created_at or a result metric; '-' for descending (e.g. -test_accuracy).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def ls(ctx, status, model, proj_id, task_type, sweep_id, sort, limit, as_json):
    """List tasks as a table (or JSON lines)."""
    rows = list(client_of(ctx).tasks(limit=limit, status=status, model=model, proj_id=proj_id,
                                     task_type=task_type, sweep_id=sweep_id, sort=sort))
    warning = sort_warning(sort) if sweep_id else None
    if as_json:
        for r in rows:
            click.echo(json.dumps(r))
        if warning:
            click.echo(f"note: {warning}", err=True)  # stdout stays one task per line
        return
    table(["task_id", "name", "type", "model", "status", "test_acc [95%]", "baseline [95%]", "created"],
          [[r["task_id"], r.get("task_name"), r["task_type"], r["model"], r["status"],
            interval_text(r.get("metrics") or {}, "test_accuracy"),
            interval_text(r.get("metrics") or {}, BASELINE_ACCURACY), r.get("created_at")] for r in rows])
    if warning:
        click.echo(f"note: {warning}")


@click.command(epilog=example("trainyard show TASK2612011200000001", "trainyard show TASK2612011200000001 --light"))
@click.argument("task_id")
@click.option("--light", is_flag=True, help="The light poll view instead of the whole task.")
@click.pass_context
@api_call
def show(ctx, task_id, light):
    """Show one task (JSON)."""
    click.echo(json.dumps(client_of(ctx).task(task_id, full=not light), indent=2))


@click.command(epilog=example("trainyard epochs TASK2612011200000001 --json"))
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def epochs(ctx, task_id, as_json):
    """Every epoch of a task."""
    for row in client_of(ctx).epochs(task_id):
        click.echo(json.dumps(row) if as_json else epoch_text(row))


@click.command(epilog=example("trainyard stop TASK2612011200000001"))
@click.argument("task_id")
@click.pass_context
@api_call
def stop(ctx, task_id):
    """Stop a task (QUEUED stops at once, RUNNING at its next batch)."""
    reply = client_of(ctx).stop(task_id)
    click.echo(f"{task_id} {reply['status']}")


@click.command(epilog=example("trainyard wait TASK2612011200000001 && echo done"))
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def wait(ctx, task_id, as_json):
    """Wait for a task to end; exit 0 SUCCEEDED, 10 FAILED, 11 STOPPED."""
    client = client_of(ctx)
    finish(client, task_id, client.wait(task_id)["status"], as_json)


COMMANDS = [submit, ls, show, epochs, stop, wait]
