"""What every command shares: the client from the global options, errors as messages and
exit codes, and output that suits a terminal, a pipe (plain text) or a program (--json)."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Iterable

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from client.api import ApiError, Client, Unreachable
from contracts.statuses import TaskStatus

EXIT = {TaskStatus.SUCCEEDED.value: 0, TaskStatus.FAILED.value: 10, TaskStatus.STOPPED.value: 11}
EXIT_ERROR = 1
EXIT_UNREACHABLE = 12


def client_of(ctx: click.Context) -> Client:
    obj = ctx.find_root().obj or {}
    return Client(url=obj.get("url"), token=obj.get("token"))


def api_call(fn):
    """Turns API errors into a message (with each field error) and a non-zero exit."""
    @functools.wraps(fn)
    def wrapper(*args, **kw):
        try:
            return fn(*args, **kw)
        except ApiError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except Unreachable as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_UNREACHABLE)
    return wrapper


def terminal() -> bool:
    return sys.stdout.isatty()


def mode(as_json: bool) -> str:
    """json, bar (a terminal) or plain (a pipe or a file: no control characters)."""
    return "json" if as_json else ("bar" if terminal() else "plain")


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value))


def table(columns: list[str], rows: Iterable[list[Any]], title: str | None = None) -> None:
    """A rich table on a terminal; aligned plain text elsewhere (nothing cut to a width)."""
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    if terminal():
        out = Table(title=Text(title) if title else None)
        for col in columns:
            out.add_column(Text(col))
        for row in rows:
            out.add_row(*map(Text, row))  # Text: a task named "x [lr=0.1]" is not markup
        Console().print(out)
        return
    if title:
        click.echo(title)
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    for row in [columns, *rows]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def example(*lines: str) -> str:
    """The epilog of a command's --help: its examples, kept as written."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
