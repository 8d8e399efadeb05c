"""The backend-specific half of running a task, as plain data the runner is handed.

A ``Backend`` says how to pick the device for a task, how to turn the task row into the engine's
job spec (``load``), how to run that spec (``run``) and what, if anything, to do after a finished
run (``after_finish``, e.g. pictures). The runner (``tasks/runner.py``) owns everything else:
the claim, the lease, the hooks that store epochs and checkpoints, finish / stop / hand-back.

This module imports no framework; each backend module imports its own, lazily.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.orm import Session

from dao.tables import Task
from models.job import JobHooks, JobOutcome


@dataclass
class JobInputs:
    """What ``Backend.load`` returns: the engine's spec (a JobSpec or an MxJobSpec), the
    record of which data went where, the epoch a resumed attempt starts after, and the local
    files the spec reads its weights and checkpoints from (the runner closes them when the job
    ends, however it ends)."""

    spec: Any
    splits: dict[str, Any]
    resumed_from_epoch: int | None
    files: ExitStack = field(default_factory=ExitStack)


@dataclass(frozen=True)
class Backend:
    name: str
    pick_device: Callable[[Task], str]
    load: Callable[[Session, Task, str], JobInputs]  # (session, task, device) → inputs
    run: Callable[[Any, JobHooks, str], JobOutcome]  # (spec, hooks, device) → outcome
    after_finish: Callable[[str, JobOutcome], None] | None = None
