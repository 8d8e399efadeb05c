"""Checks of a task form against the database, made before anything is queued: the datasets
exist and agree, the model is known, and a fine-tune or evaluation names a finished task whose
model fits. Decided from metadata rows only (no torch in the API); another project's task or
dataset reads as one that does not exist."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from contracts.param_grid import cap_problems, grid_size, inner_cv_type, nested_runs
from contracts.settings import get_settings
from contracts.task_form import NewTaskForm, missing_roles
from app.dataset_cache import DatasetInfo, dataset_infos
from app.usecases.lineage_checks import lineage_problems, named_datasets
from app.usecases.parents import usable_parent
from app.usecases.split_checks import held_out_problems
from webcommon.principal import can_see
from dao import lineage_queries
from dao.tables import Task
from contracts.catalog import ModelInfo, all_models, find_model
from models.compat import check_compatible
from models.datasets.lineage import build_lineage
from contracts.task_needs import FORM_FIELDS, used_fields, used_roles

Problems = list[tuple[str, str]]
MAX_LOO_SUBJECTS = 200  # leave-one-out trains one model per subject


@dataclass
class CheckedForm:
    form: NewTaskForm
    model: ModelInfo
    parent: Task | None
    shape: dict[str, Any]  # regions, node_features, classes shared by every dataset
    folds: int = 1  # how many trainings: the number of cross-validation folds, else 1


def check_form(session: Session, form: NewTaskForm) -> tuple[CheckedForm | None, Problems]:
    problems = missing_roles(form)
    model = find_model(form.model)
    if model is None:
        known = ", ".join(m.name for m in all_models() if m.input == "connectome")
        problems.append(("model", f"unknown model {form.model!r}; known models: {known}"))
    elif not model.iterative and form.task_type == "dl_ft":
        problems.append(("model", f"{model.name} is fitted in one step: there is nothing to fine-tune; "
                                  f"train it with dl_ts"))
    elif model.input != "connectome":
        problems.append(("model", f"{model.name} is an MXNet {model.input} network; new_task trains "
                                  f"connectome models, submit image tasks with POST /train"))
        model = None
    shape, rows, data_problems = _dataset_shape(session, form)
    problems += data_problems
    parent, parent_problems = _parent(session, form, model, shape)
    problems += parent_problems
    if parent is not None and not problems:
        problems += _lineage(session, form, parent, rows)
    folds, cv_problems = cv_folds(form, rows) if not problems and form.cross_validated else (1, [])
    problems += cv_problems
    if form.param_grid and not problems:
        problems += nested_problems(form, folds, rows)
    if parent is not None and not problems and form.cross_validated:
        problems += _cv_lineage(session, form, parent, rows)
    if not problems:  # groups kept whole, the group rule, copies of subjects (app.usecases.split_checks)
        problems += held_out_problems(session, form, parent.id if parent else None, rows)
    if problems:
        return None, problems
    return CheckedForm(form, model, parent, shape, folds), []


def _used_roles(form: NewTaskForm) -> tuple[str, ...]:
    return used_fields(form.task_type, form.enable_test)


def _shape_of(row: DatasetInfo) -> dict[str, Any]:
    meta = row.meta
    features = int(meta.get("n_features") or 0)
    return {
        "regions": int(meta["n_regions"]),
        "node_features": features or int(meta["n_regions"]),
        "classes": len(meta["class_names"]),
        "class_names": list(meta["class_names"]),
    }


def _pool(form: NewTaskForm, rows: dict[str, DatasetInfo]) -> tuple[int, dict[str, int]]:
    """Subjects and class counts of every dataset the form names, each once (the CV pool)."""
    names = {n for role in _used_roles(form) for n in getattr(form, role)}
    counts: dict[str, int] = {}
    for name in names:
        for cls, k in rows[name].meta.get("class_counts", {}).items():
            counts[cls] = counts.get(cls, 0) + int(k)
    return sum(int(rows[n].meta["n_subjects"]) for n in names), counts


def cv_folds(form: NewTaskForm, rows: dict[str, DatasetInfo]) -> tuple[int, Problems]:
    """How many folds the form's cross-validation makes, or the problem with it."""
    n, counts = _pool(form, rows)
    if form.cv_type == "loo":
        if n > MAX_LOO_SUBJECTS:
            return 1, [("cv_type", f"loo trains one model per subject: {n} subjects is more than "
                                   f"{MAX_LOO_SUBJECTS}; use kfold or stratified_kfold")]
        return n, []
    smallest = min(counts.values()) if counts else 0
    limit, what = (smallest, "the smallest class has") if form.cv_type == "stratified_kfold" else (n, "the data has")
    if form.n_folds > limit:
        return 1, [("n_folds", f"{form.n_folds} folds need at least {form.n_folds} subjects per fold's "
                               f"split; {what} {limit}")]
    return form.n_folds * form.cv_repeats, []


def nested_problems(form: NewTaskForm, folds: int, rows: dict[str, DatasetInfo]) -> Problems:
    """A nested cross-validation's runs are under the cap, and its inner folds fit in every
    outer fold's training part."""
    runs = nested_runs(folds, form.inner_folds, form.param_grid, form.n_permutations)
    problems = cap_problems(runs, get_settings().max_nested_cv_runs, folds, form.inner_folds,
                            grid_size(form.param_grid))
    return problems + _inner_fold_problems(form, rows)


def _inner_fold_problems(form: NewTaskForm, rows: dict[str, DatasetInfo]) -> Problems:
    n, counts = _pool(form, rows)
    stratified = inner_cv_type(form.cv_type) == "stratified_kfold"
    size, what = (min(counts.values()), "its smallest class has") if stratified and counts else (n, "it has")
    outer = n if form.cv_type == "loo" else form.n_folds
    left = size - math.ceil(size / outer)  # in the outer fold that holds the most of them out
    if form.inner_folds <= left:
        return []
    return [("inner_folds", f"{form.inner_folds} inner folds need at least {form.inner_folds} subjects in each "
                            f"outer fold's training part; {what} about {left} there")]


def _cv_lineage(session: Session, form: NewTaskForm, parent: Task, rows: dict[str, DatasetInfo]) -> Problems:
    """Folds test every subject once: on data an ancestor used they would test on what it
    trained on or train on its test subjects."""
    lineage = build_lineage(lineage_queries.ancestor_records(session, parent.id))
    named = {n for role in _used_roles(form) for n in getattr(form, role)}
    used = sorted(n for n in named if rows[n].checksum in lineage)
    if not used:
        return []
    return [("cv_type", f"cross-validating a fine-tune on {', '.join(map(repr, used))}, which this task's "
                        f"ancestors used, would test on subjects they trained on or train on their test "
                        f"subjects; fine-tune on a single split (cv_type none) or on other data")]


def _lineage(session: Session, form: NewTaskForm, parent: Task, rows: dict[str, DatasetInfo]) -> Problems:
    roles = {r: list(getattr(form, FORM_FIELDS[r])) for r in used_roles(form.task_type, form.enable_test)}
    facts = {n: (r.checksum, int(r.meta["n_subjects"])) for n, r in rows.items()}
    return lineage_problems(session, parent.id, named_datasets(roles, facts), form.allow_seen_test)


def _dataset_shape(session: Session, form: NewTaskForm
                   ) -> tuple[dict[str, Any], dict[str, DatasetInfo], Problems]:
    roles = _used_roles(form)
    names = [n for role in roles for n in getattr(form, role)]
    rows = {n: row for n, row in dataset_infos(session, names).items() if can_see(row.project_id)}
    problems: Problems = []
    first: tuple[str, dict[str, Any]] | None = None
    for role in roles:
        for i, name in enumerate(getattr(form, role)):
            field = f"{role}[{i}]"
            row = rows.get(name)
            if row is None:
                problems.append((field, f"dataset {name!r} does not exist"))
            elif row.kind != "connectome":
                problems.append((field, f"dataset {name!r} holds {row.kind} data, not connectomes"))
            elif first is None:
                first = (field, _shape_of(row))
            else:
                problems += _disagreement(field, name, _shape_of(row), *first)
    return ({} if first is None else first[1]), rows, problems


def _disagreement(field: str, name: str, shape: dict, first_field: str, first: dict) -> Problems:
    out = []
    for key in ("regions", "node_features", "class_names"):
        if shape[key] != first[key]:
            out.append((field, f"dataset {name!r} has {key.replace('_', ' ')} {shape[key]} but "
                               f"{first_field} has {first[key]}"))
    return out


def _parent(session: Session, form: NewTaskForm, model: ModelInfo | None,
            shape: dict[str, Any]) -> tuple[Task | None, Problems]:
    if form.task_type == "dl_ts" or not form.param_set.trained_task_id:
        return None, []
    field = "param_set.trained_task_id"
    parent, problems = usable_parent(session, form.param_set.trained_task_id, field=field, backend="torch",
                                     task_type=form.task_type)
    if parent is None or model is None or not shape:
        return parent, problems
    contract = (parent.result or {}).get("contract") or {}
    mismatches = check_compatible(contract, model.name, shape["regions"], shape["node_features"],
                                  shape["classes"])
    return parent, [(field, m) for m in mismatches]
