"""``trainyard logs [-f]``: what a task's job logged on its worker."""

from __future__ import annotations

import click

from client.cli.common import api_call, client_of, echo_json, example


def line_text(line: dict) -> str:
    return f"{line.get('at', '')} [{line.get('attempt')}] {line.get('level', ''):<7} {line.get('message', '')}"


@click.command(epilog=example("trainyard logs TASK2612011200000001", "trainyard logs -f TASK2612011200000001",
                              "trainyard logs TASK2612011200000001 --attempt 2 --json"))
@click.argument("task_id")
@click.option("--follow", "-f", "follow_", is_flag=True,
              help="Keep printing new lines until the task has ended (resumes after a lost connection).")
@click.option("--cursor", type=int, default=0, show_default=True, help="Start after this line (a line's seq).")
@click.option("--attempt", type=int, help="Only this attempt's lines.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (seq, attempt, at, level, logger, message).")
@click.pass_context
@api_call
def logs(ctx, task_id, follow_, cursor, attempt, as_json):
    """A task's log lines: each attempt's epoch lines, warnings, a failure's traceback."""
    client = client_of(ctx)
    lines = client.follow_logs(task_id, cursor, attempt) if follow_ else client.all_logs(task_id, attempt, cursor)
    for line in lines:
        if as_json:
            echo_json(line)
        else:
            click.echo(line_text(line))
