"""Task commands: submit (and follow), ls, show, epochs, stop, wait."""

from __future__ import annotations

import functools
import json
import sys
import time

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from client.api import TERMINAL, ApiError, Client, Unreachable

EXIT = {"SUCCEEDED": 0, "FAILED": 10, "STOPPED": 11}
EXIT_UNREACHABLE = 12


def _client(ctx: click.Context) -> Client:
    return Client(url=ctx.obj.get("url"), token=ctx.obj.get("token"))


def api_call(fn):
    """Turns API errors into a message (with each field error) and a non-zero exit."""
    @functools.wraps(fn)
    def wrapper(*args, **kw):
        try:
            return fn(*args, **kw)
        except ApiError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except Unreachable as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_UNREACHABLE)
    return wrapper


def _epoch_text(row: dict) -> str:
    parts = [f"epoch {row.get('epoch')}/{row.get('epochs')}", f"loss {row.get('train_loss', float('nan')):.4f}"]
    if row.get("val_accuracy") is not None:
        parts.append(f"val_acc {row['val_accuracy']:.3f}")
    return "  ".join(parts)


def follow(client: Client, task_id: str, mode: str, poll: float = 1.0) -> str:
    """Reports each epoch once, in order, until the task ends; returns its final state.

    Each poll reads the status and the epochs in one answer, so when the status is final every
    epoch is already in it: none is lost at the end. Epochs are keyed by (attempt, epoch), so a
    poll after a dropped connection repeats none.
    """
    seen: set[tuple] = set()
    bar = task_bar = None
    if mode == "bar":
        bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                       TimeRemainingColumn(), console=Console(stderr=False))
        bar.start()
    try:
        while True:
            try:
                data = client._get(f"/api/v0/tasks/{task_id}/epochs")
            except Unreachable:
                time.sleep(poll)  # the API is away (restarting?): keep following
                continue
            for row in data["epochs"]:
                key = (row.get("attempt"), row.get("epoch"))
                if key in seen:
                    continue
                seen.add(key)
                if mode == "json":
                    click.echo(json.dumps({"task_id": task_id, **row}))
                elif mode == "plain":
                    click.echo(f"{task_id} {_epoch_text(row)}")
                else:
                    if task_bar is None:
                        task_bar = bar.add_task(task_id, total=row.get("epochs") or 1, info="")
                    bar.update(task_bar, completed=row.get("epoch"), info=_epoch_text(row))
            if data["status"] in TERMINAL:
                return data["status"]
            time.sleep(poll)
    finally:
        if bar is not None:
            bar.stop()


def _mode(as_json: bool) -> str:
    return "json" if as_json else ("bar" if sys.stdout.isatty() else "plain")


def _finish(client: Client, task_id: str, status: str, as_json: bool) -> None:
    task = client.task(task_id)
    if as_json:
        click.echo(json.dumps({"final": True, **task}))
    else:
        result = task.get("result") or {}
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in result.items() if k.startswith("test_") and isinstance(v, float))
        click.echo(f"{task_id} {status}" + (f": {metrics}" if metrics else "") +
                   (f" ({task['error']})" if task.get("error") else ""))
    sys.exit(EXIT[status])


@click.command(epilog="\b\nExamples:\n  trainyard submit form.yaml --follow\n  trainyard submit form.json --json > run.jsonl")
@click.argument("form_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--follow", "-f", "follow_", is_flag=True, help="Follow the task to its end; the exit code is its final state.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: the submit reply, each epoch, the final task.")
@click.pass_context
@api_call
def submit(ctx, form_file, follow_, as_json):
    """Submit a task form (JSON or YAML). Exit codes: 0 SUCCEEDED, 10 FAILED, 11 STOPPED, 1 rejected."""
    client = _client(ctx)
    task_id = client.submit(Client.load_form(form_file))
    click.echo(json.dumps({"task_id": task_id}) if as_json else task_id)
    if follow_:
        _finish(client, task_id, follow(client, task_id, _mode(as_json)), as_json)


@click.command("ls", epilog="\b\nExamples:\n  trainyard ls --status SUCCEEDED --sort -test_accuracy --limit 20")
@click.option("--status")
@click.option("--model")
@click.option("--proj-id")
@click.option("--task-type")
@click.option("--sort", help="created_at or a result metric; '-' for descending (e.g. -test_accuracy).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def ls(ctx, status, model, proj_id, task_type, sort, limit, as_json):
    """List tasks as a table (or JSON lines)."""
    rows = list(_client(ctx).tasks(limit=limit, status=status, model=model, proj_id=proj_id,
                                   task_type=task_type, sort=sort))
    if as_json:
        for r in rows:
            click.echo(json.dumps(r))
        return
    table = Table()
    for col in ("task_id", "name", "type", "model", "status", "test_acc", "created"):
        table.add_column(col)
    for r in rows:
        acc = (r.get("metrics") or {}).get("test_accuracy")
        table.add_row(r["task_id"], r.get("task_name") or "", r["task_type"], r["model"], r["status"],
                      "-" if acc is None else f"{acc:.3f}", r.get("created_at") or "")
    Console().print(table)


@click.command(epilog="\b\nExample:\n  trainyard show TASK2612011200000001")
@click.argument("task_id")
@click.pass_context
@api_call
def show(ctx, task_id):
    """Show one task (JSON)."""
    click.echo(json.dumps(_client(ctx).task(task_id), indent=2))


@click.command(epilog="\b\nExample:\n  trainyard epochs TASK2612011200000001 --json")
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def epochs(ctx, task_id, as_json):
    """Every epoch of a task."""
    for row in _client(ctx).epochs(task_id):
        click.echo(json.dumps(row) if as_json else _epoch_text(row))


@click.command(epilog="\b\nExample:\n  trainyard stop TASK2612011200000001")
@click.argument("task_id")
@click.pass_context
@api_call
def stop(ctx, task_id):
    """Stop a task (QUEUED stops at once, RUNNING at its next batch)."""
    reply = _client(ctx).stop(task_id)
    click.echo(f"{task_id} {reply['status']}")


@click.command(epilog="\b\nExample:\n  trainyard wait TASK2612011200000001 && echo done")
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def wait(ctx, task_id, as_json):
    """Wait for a task to end; exit 0 SUCCEEDED, 10 FAILED, 11 STOPPED."""
    client = _client(ctx)
    _finish(client, task_id, client.wait(task_id)["status"], as_json)


COMMANDS = [submit, ls, show, epochs, stop, wait]
