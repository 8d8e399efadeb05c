"""The checks of a connectome form's splits made after the subject rule of held-out lineage
(app.usecases.lineage_checks.lineage_problems) passed: datasets split by groups have enough of them
(app.usecases.group_checks), no test group was fitted on by an ancestor (the group rule,
app.usecases.lineage_checks.group_lineage_problems), and no test subject copies one the task or its
ancestors fitted on (app.usecases.subject_copies)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.dataset_cache import DatasetInfo
from app.usecases.group_checks import group_counts, split_problems
from app.usecases.lineage_checks import group_lineage_problems, named_datasets
from app.usecases.subject_copies import copy_problems
from contracts.task_form import NewTaskForm
from contracts.task_needs import FORM_FIELDS, used_roles
from dao import lineage_queries
from models.datasets.lineage import FIT_ROLES, lineage_of_splits

Problems = list[tuple[str, str]]


def held_out_problems(session: Session, form: NewTaskForm, parent_id: str | None,
                      rows: dict[str, DatasetInfo]) -> Problems:
    """Problems with the form's groups and copies; ``rows``: the datasets it names (all exist)."""
    roles = {r: list(getattr(form, FORM_FIELDS[r])) for r in used_roles(form.task_type, form.enable_test)}
    lineage = {} if parent_id is None else lineage_of_splits(lineage_queries.ancestor_splits(session, parent_id))
    named = named_datasets(roles, {n: (r.checksum, int(r.meta["n_subjects"])) for n, r in rows.items()})
    problems = split_problems(form, roles, rows, lineage)
    problems += group_lineage_problems(named, group_counts(rows), lineage, form.allow_seen_test)
    if problems:
        return problems
    if form.cross_validated:  # every pooled subject is tested in one fold and trained on in others
        tests, fit = [(next(iter(d.fields.values())), d.name) for d in named], [d.name for d in named]
    else:
        tests = [(f"{FORM_FIELDS['test']}[{i}]", n) for i, n in enumerate(roles.get("test") or [])]
        fit = [n for r in FIT_ROLES for n in roles.get(r) or []]
    checksums = {n: r.checksum for n, r in rows.items()}
    return copy_problems(session, tests, fit, checksums, parent_id, lineage, form.allow_seen_test)
