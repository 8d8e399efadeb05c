"""Following tasks to their end: a progress bar per task on a terminal, one line per epoch in a
pipe, JSON lines with --json. Several tasks (a sweep) are followed together."""

from __future__ import annotations

import json
import time

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from client.api import TERMINAL, ApiError, Client, Unreachable


def _num(value, fmt: str) -> str:
    return "-" if not isinstance(value, (int, float)) else format(value, fmt)


def epoch_text(row: dict) -> str:
    parts = [f"epoch {row.get('epoch')}/{row.get('epochs')}", f"loss {_num(row.get('train_loss'), '.4f')}"]
    if row.get("val_accuracy") is not None:
        parts.append(f"val_acc {_num(row['val_accuracy'], '.3f')}")
    return "  ".join(parts)


class _Output:
    """Where each new epoch goes, by mode."""

    def __init__(self, mode: str):
        self.mode, self.bars = mode, {}
        self.progress = None
        if mode == "bar":
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                                     TimeRemainingColumn(), console=Console())
            self.progress.start()

    def epoch(self, task_id: str, row: dict) -> None:
        if self.mode == "json":
            click.echo(json.dumps({"task_id": task_id, **row}))
        elif self.mode == "plain":
            click.echo(f"{task_id} {epoch_text(row)}")
        else:
            if task_id not in self.bars:
                self.bars[task_id] = self.progress.add_task(task_id, total=row.get("epochs") or 1, info="")
            self.progress.update(self.bars[task_id], completed=row.get("epoch"), info=epoch_text(row))

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def follow_many(client: Client, task_ids: list[str], mode: str, poll: float = 1.0) -> dict[str, str]:
    """Reports each epoch of each task once, in order, until every task has ended; returns each
    task's final state.

    Each poll reads a task's status and its epochs in one answer, so when the status is final
    every epoch is already in it: none is lost at the end. Epochs are keyed by (attempt, epoch),
    so a poll after a dropped connection or a restarted API repeats none; while the API is
    away (no answer, or 503) the follow keeps trying instead of giving up.
    """
    seen: dict[str, set[tuple]] = {t: set() for t in task_ids}
    final: dict[str, str] = {}
    out = _Output(mode)
    try:
        while len(final) < len(task_ids):
            for task_id in [t for t in task_ids if t not in final]:
                try:
                    data = client._get(f"/api/v0/tasks/{task_id}/epochs")
                except Unreachable:
                    continue
                except ApiError as exc:
                    if exc.status == 503:
                        continue
                    raise
                for row in data["epochs"]:
                    key = (row.get("attempt"), row.get("epoch"))
                    if key not in seen[task_id]:
                        seen[task_id].add(key)
                        out.epoch(task_id, row)
                if data["status"] in TERMINAL:
                    final[task_id] = data["status"]
            if len(final) < len(task_ids):
                time.sleep(poll)
    finally:
        out.close()
    return final


def follow(client: Client, task_id: str, mode: str, poll: float = 1.0) -> str:
    return follow_many(client, [task_id], mode, poll)[task_id]
