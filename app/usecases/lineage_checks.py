"""The submit-time half of held-out lineage: refuse a task whose test set (or training set)
would be empty once what its ancestors used is held apart, naming how many subjects and which
tasks saw them. Decided from the ancestors' recorded ids and each dataset's size and checksum
(models.datasets.lineage; the worker applies the same rule to the ids)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from dao import lineage_queries
from models.datasets.lineage import FIT_ROLES, Lineage, Seen, build_lineage, pool_sizes
from contracts.task_needs import FORM_FIELDS

Problems = list[tuple[str, str]]
FORM_ROLES = FORM_FIELDS


@dataclass(frozen=True)
class Named:
    """A dataset a form names: its checksum, its number of subjects (or images), and the form
    fields naming it per role ({"test": "test_data[0]", ...})."""

    name: str
    checksum: str
    n: int
    fields: dict[str, str]


def named_datasets(form_roles: dict[str, list[str]], facts: dict[str, tuple[str, int]]) -> list[Named]:
    """``form_roles`` {role: dataset names} and ``facts`` {name: (checksum, size)} → Named list."""
    out: dict[str, Named] = {}
    for role, names in form_roles.items():
        for i, name in enumerate(names):
            if name in facts:
                named = out.setdefault(name, Named(name, *facts[name], {}))
                named.fields.setdefault(role, f"{FORM_ROLES[role]}[{i}]")
    return list(out.values())


def lineage_problems(session: Session, parent_id: str | None, datasets: list[Named],
                     allow_seen_test: bool, unit: str = "subjects") -> Problems:
    """One problem per dataset whose test or training pool the lineage leaves empty."""
    if parent_id is None:
        return []
    lineage = build_lineage(lineage_queries.ancestor_records(session, parent_id))
    problems: Problems = []
    for ds in datasets:
        seen = lineage.get(ds.checksum)
        if seen is not None:
            problems += _dataset_problems(ds, seen, allow_seen_test, unit)
    return problems


def _dataset_problems(ds: Named, seen: Seen, allow_seen_test: bool, unit: str) -> Problems:
    roles = list(ds.fields)
    test_n, fit_n = pool_sizes(ds.n, seen, roles)
    problems: Problems = []
    if "test" in roles and test_n == 0 and not allow_seen_test:
        problems.append((ds.fields["test"], (
            f"all {ds.n} {unit} of dataset {ds.name!r} were trained or validated on by this task's "
            f"ancestors ({_who(seen.fitted_by())}): none is held out to test on; set "
            f"allow_seen_test to true to test on them anyway (the result is then marked)")))
    fit_roles = [r for r in roles if r in FIT_ROLES]
    if fit_roles and fit_n < len(fit_roles) and not allow_seen_test:
        tested = len(seen.tested)
        problems.append((ds.fields[fit_roles[0]], (
            f"dataset {ds.name!r} leaves {fit_n} {unit} to train and validate on: {tested} are "
            f"held out as test {unit} of this task's ancestors ({_who(_tested_by(seen))})"
            + (f" and {ds.n - len(seen.fitted)} more are this task's test set" if "test" in roles else ""))))
    return problems


def _tested_by(seen: Seen) -> dict[str, int]:
    return Seen(fitted=seen.tested).fitted_by()


def _who(counts: dict[str, int]) -> str:
    return ", ".join(f"{task} saw {k}" for task, k in counts.items())


def group_lineage_problems(datasets: list[Named], group_counts: dict[str, dict[str, int]], lineage: Lineage,
                           allow_seen_test: bool) -> Problems:
    """The group rule beside the subject rule: a dataset's test subjects come only from groups
    (sites, scanners, families) no ancestor trained or validated on. One problem per test dataset
    whose every group an ancestor fitted on, naming the groups. ``group_counts``: {dataset name:
    {group: subjects}} (datasets with groups); ``lineage`` recorded with its groups."""
    problems: Problems = []
    for ds in datasets:
        seen, counts = lineage.get(ds.checksum), group_counts.get(ds.name)
        if allow_seen_test or "test" not in ds.fields or seen is None or not counts:
            continue
        if all(g in seen.fitted_groups for g in counts):
            by_task = seen.fitted_groups_by(counts)
            problems.append((ds.fields["test"], (
                f"every group of dataset {ds.name!r} ({_listed(sorted(counts))}) was trained or validated on "
                f"by this task's ancestors ({', '.join(f'{t} on {k}' for t, k in by_task.items())}): no group "
                f"is held out to test on, and a group the model learnt does not test unseen groups; set "
                f"allow_seen_test to true to test on them anyway (the result is then marked)")))
    return problems


def _listed(names: list[str], most: int = 12) -> str:
    shown = ", ".join(map(repr, names[:most]))
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
