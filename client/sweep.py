"""Hyper-parameter sweeps: a grid (or a random sample of it) of task forms sharing a sweep id."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import random
import secrets
from typing import Any

from contracts.task_form import NewTaskForm

# The form's top-level fields; any other bare name is a param_set field (learning_rate, ...).
TOP_LEVEL = frozenset(NewTaskForm.model_fields)
MAX_TASKS = 500


class BadGrid(ValueError):
    """A --grid option that cannot be read, or a sweep too large."""


def new_sweep_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"SWEEP{now:%y%m%d%H%M%S}{secrets.token_hex(3).upper()}"


def _value(text: str) -> Any:
    """A number, boolean or null when it reads as JSON (``1e-3``, ``true``), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_grid(options: list[str]) -> dict[str, list[Any]]:
    """``["learning_rate=0.01,0.1", "model=GNN,GAT"]`` → ``{"param_set.learning_rate": [0.01, 0.1],
    "model": ["GNN", "GAT"]}``. Raises BadGrid."""
    grid: dict[str, list[Any]] = {}
    for option in options:
        name, sep, values = option.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise BadGrid(f"--grid {option!r}: write it as param=v1,v2,...")
        path = name if "." in name or name in TOP_LEVEL else f"param_set.{name}"
        if path in grid:
            raise BadGrid(f"--grid names {name!r} twice")
        grid[path] = [_value(v.strip()) for v in values.split(",") if v.strip()]
    return grid


def combinations(grid: dict[str, list[Any]], sample: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Every combination of the grid, or ``sample`` distinct ones drawn at random (seeded).
    Raises BadGrid for an empty or oversized sweep."""
    names = list(grid)
    every = [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]
    if sample is not None:
        if sample < 1:
            raise BadGrid("--random must be at least 1")
        every = random.Random(seed).sample(every, min(sample, len(every)))
    if not every:
        raise BadGrid("the sweep has no task: give --grid param=v1,v2")
    if len(every) > MAX_TASKS:
        raise BadGrid(f"the grid has {len(every)} combinations (at most {MAX_TASKS}): narrow it or use --random N")
    return every


def short_name(path: str) -> str:
    return path.removeprefix("param_set.")


def form_for(base: dict, combo: dict[str, Any], sweep_id: str) -> dict:
    """The base form with the combination's values set, named after them, tagged with the sweep."""
    form = copy.deepcopy(base)
    for path, value in combo.items():
        node = form
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    label = " ".join(f"{short_name(p)}={v}" for p, v in combo.items())
    form["task_name"] = f"{base.get('task_name') or 'sweep'} [{label}]"[:200]
    form["sweep_id"] = sweep_id
    return form
