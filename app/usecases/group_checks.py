"""Whether a form's splits can keep groups (sites, scanners, families) whole, decided from the
datasets' metadata (``n_groups``, ``group_counts``) and the ancestors' recorded lineage, by the
worker's rule (models.datasets.splits.group_shares, models.cv): every side of a split or fold by
groups needs MIN_GROUPS groups; leave-one-out cannot keep groups whole. Folds of unequal groups
can still leave a fold short: the worker then fails the task naming the fold."""

from __future__ import annotations

import math

from app.dataset_cache import DatasetInfo
from contracts.task_form import NewTaskForm
from contracts.task_needs import FORM_FIELDS, ROLES
from models.datasets.group_splits import MIN_GROUPS, enough_groups
from models.datasets.lineage import Lineage, Seen

Problems = list[tuple[str, str]]
BY_SUBJECTS = 'send split_by "subjects" to split it subject by subject (the result is then marked groups_mixed)'


def group_counts(rows: dict[str, DatasetInfo]) -> dict[str, dict[str, int]]:
    """{dataset name: {group: subjects}} of the datasets with groups."""
    return {n: dict(r.meta["group_counts"]) for n, r in rows.items() if r.meta.get("group_counts")}


def split_problems(form: NewTaskForm, roles: dict[str, list[str]], rows: dict[str, DatasetInfo],
                   lineage: Lineage) -> Problems:
    """One problem per dataset the form splits among roles that cannot be split by groups."""
    if form.split_by == "subjects":
        return []
    if form.cross_validated:
        return _cv_problems(form, roles, rows)
    problems: Problems = []
    for name in dict.fromkeys(n for names in roles.values() for n in names):
        sharing = [r for r in ROLES if name in roles.get(r, [])]
        if len(sharing) < 2:
            continue
        field = f"{FORM_FIELDS[sharing[0]]}[{roles[sharing[0]].index(name)}]"
        counts = rows[name].meta.get("group_counts")
        if not counts:
            if form.split_by == "groups":
                problems.append(("split_by", f"dataset {name!r} has no groups to split by; upload it with "
                                             f"groups, or send split_by \"subjects\""))
            continue
        seen = None if form.allow_seen_test else lineage.get(rows[name].checksum)
        parts, n = _to_split(sharing, counts, seen)
        if len(parts) > 1 and not enough_groups(n, len(parts)):
            problems.append((field, f"dataset {name!r} cannot be split by groups among {', '.join(parts)}: "
                                    f"{_has(n, seen)}, and each needs at least {MIN_GROUPS} "
                                    f"({MIN_GROUPS * len(parts)}); {BY_SUBJECTS}"))
    return problems


def _to_split(roles: list[str], counts: dict[str, int], seen: Seen | None) -> tuple[list[str], int]:
    """The roles that share a split of whole groups, and at most how many groups they share. With
    a lineage the test role takes the ancestors' unseen groups and the others share the rest."""
    if seen is None:
        return roles, len(counts)
    fit = [r for r in roles if r != "test"]
    if "test" not in roles:
        return fit, len(counts)
    return fit, sum(1 for g in counts if g in seen.fitted_groups)


def _has(n: int, seen: Seen | None) -> str:
    if seen is None:
        return f"it has {n} groups"
    return f"this task's ancestors leave {n} groups to train and validate on"


def _cv_problems(form: NewTaskForm, roles: dict[str, list[str]], rows: dict[str, DatasetInfo]) -> Problems:
    """Cross-validation pools every dataset once: its folds keep groups whole (a dataset without
    groups gives each subject its own)."""
    names = list(dict.fromkeys(n for names in roles.values() for n in names))
    grouped = [n for n in names if rows[n].meta.get("group_counts")]
    if not grouped:
        return [("split_by", "none of the datasets has groups to split by; send split_by \"subjects\"")] \
            if form.split_by == "groups" else []
    if form.cv_type == "loo":
        return [("cv_type", "loo leaves one subject out, which cannot keep groups whole: use kfold or "
                            "stratified_kfold (folds of whole groups), or send split_by \"subjects\"")]
    groups = {g for n in grouped for g in rows[n].meta["group_counts"]}
    n = len(groups) + sum(int(rows[m].meta["n_subjects"]) for m in names if m not in grouped)
    rest = n - math.ceil(n / form.n_folds)
    if n < MIN_GROUPS * form.n_folds or rest < 2 * MIN_GROUPS:
        return [("n_folds", f"{form.n_folds} folds of whole groups need at least {MIN_GROUPS} groups to test on "
                            f"in each fold and {MIN_GROUPS} each to train and validate on; the data has {n} "
                            f"groups: use fewer folds, or send split_by \"subjects\"")]
    return []
