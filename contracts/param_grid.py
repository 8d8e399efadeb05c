"""Nested cross-validation's grid: which hyper-parameters a form's ``param_grid`` may tune, the
configurations it makes, the inner splitter, and how many training runs it costs.

An inner cross-validation on each outer fold's training part (its train and validation
subjects) scores every configuration by the mean of its inner folds' ``best_val_loss`` (lower is
better; contracts.selection's DEFAULT_METRIC); the best one is trained on the outer fold and
scored on its test part (models.nested_cv). Pydantic and the standard library only.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

# The HyperParams fields a grid may vary: every one but ``seed`` (choosing a seed chooses luck).
# The networks' sizes and dropout are fixed by the catalog, not by the form, so they are not here.
TUNABLE = ("learning_rate", "weight_decay", "batch_size", "epochs", "optimizer", "lr_step_size", "lr_decay",
           "edge_keep_percent", "patience")
MAX_VALUES = 20  # per hyper-parameter
INNER_FOLDS_DEFAULT, INNER_FOLDS_MIN, INNER_FOLDS_MAX = 3, 2, 10

GridValues = Annotated[list[int | float | str], Field(min_length=1, max_length=MAX_VALUES)]
ParamGrid = Annotated[dict[str, GridValues], Field(min_length=1, max_length=len(TUNABLE))]

Problems = list[tuple[str, str]]


def inner_cv_type(outer: str) -> str:
    """The inner splitter: stratified when the outer one is, else k-fold (never leave-one-out)."""
    return "stratified_kfold" if outer == "stratified_kfold" else "kfold"


def grid_size(grid: dict[str, list]) -> int:
    return math.prod(len(values) for values in grid.values())


def configurations(grid: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in the grid's key and value order."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def epochs_per_fold(epochs: int, grid: dict[str, list] | None) -> int:
    """The epochs each outer fold's numbering reserves: the most any configuration trains (the
    task's ``/epochs`` number fold k's epoch e as k × this + e)."""
    return max([int(epochs), *(int(float(e)) for e in (grid or {}).get("epochs", []))])


def nested_runs(outer_folds: int, inner_folds: int, grid: dict[str, list], n_permutations: int = 0) -> int:
    """Training runs a nested cross-validation makes: per outer fold (every repeat's), one per
    inner fold and configuration plus the chosen configuration's refit; all again per permutation."""
    return outer_folds * (inner_folds * grid_size(grid) + 1) * (1 + n_permutations)


def cap_problems(runs: int, cap: int, outer_folds: int, inner_folds: int, size: int) -> Problems:
    if runs <= cap:
        return []
    return [("param_grid", f"nested cross-validation would train {runs} models ({outer_folds} outer folds × "
                           f"({inner_folds} inner folds × {size} configurations + 1 refit), times 1 + "
                           f"n_permutations), more than the cap of {cap} (TRAINYARD_MAX_NESTED_CV_RUNS); "
                           f"use fewer values, folds or inner_folds")]


def grid_problems(form: Any) -> Problems:
    """Cross-field problems of a NewTaskForm's ``param_grid`` (None: no problems)."""
    grid = form.param_grid
    if not grid:
        return []
    if form.task_type == "dl_ev":
        return [("param_grid", "nested cross-validation trains models; a dl_ev trains none")]
    if not form.cross_validated:
        return [("param_grid", "nested cross-validation needs a cv_type (kfold, stratified_kfold or loo): "
                               "the inner folds choose a configuration inside each outer fold")]
    problems: Problems = []
    for key, values in grid.items():
        problems += _key_problems(form.param_set, key, values)
    return problems


def _key_problems(base: BaseModel, key: str, values: list) -> Problems:
    field = f"param_grid.{key}"
    if key not in TUNABLE:
        return [(field, f"{key!r} is not a hyper-parameter to tune; one of {', '.join(TUNABLE)}")]
    checked = []
    for value in values:
        try:  # the candidate param_set, checked with the field's own bounds
            checked.append(getattr(type(base).model_validate({**base.model_dump(), key: value}), key))
        except ValidationError as exc:
            return [(field, f"{value!r}: {exc.errors()[0]['msg']}")]
    if len(set(checked)) < len(checked):
        return [(field, "names a value twice")]
    return []
