"""Which subjects a task's ancestors have seen, and what that leaves a child (no numpy).

Every task records, per dataset checksum, the ids of the subjects (connectomes) or samples
(images, by index) it trained, validated and tested on (``lineage_record``). A child's
ancestors' records make its ``Lineage``: per checksum, who fitted (trained or validated) on
which id and who tested on which. The rule a child follows on a dataset its ancestors used:

- its test subjects are the dataset's subjects no ancestor fitted on (for a ``dl_ev`` of a task
  on its own dataset: exactly that task's held-out test subjects);
- its train and validation subjects come from the rest, minus every ancestor's test subjects;
- on a dataset with groups (sites, scanners, families) its test subjects also come only from
  groups no ancestor trained or validated on: a site the model learnt is not a test of new sites.
  Each task records its groups per role beside its ids (``lineage_groups``, same layout).

``pools`` applies the rule to a dataset's ids (the worker), ``pool_sizes`` computes the same
counts from the number of subjects alone (the API, which never loads the arrays); both raise
nothing, an empty pool is for the caller to refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

FIT_ROLES = ("train", "val")


@dataclass
class Seen:
    """One dataset's ids an ancestor used, each with the ids of the tasks that used it."""

    fitted: dict[str, list[str]] = field(default_factory=dict)
    tested: dict[str, list[str]] = field(default_factory=dict)
    fitted_groups: dict[str, list[str]] = field(default_factory=dict)  # group -> tasks

    def tasks(self) -> list[str]:
        """Every task that used some of this dataset, sorted."""
        return sorted({t for ids in (self.fitted, self.tested, self.fitted_groups) for ts in ids.values()
                       for t in ts})

    def fitted_by(self) -> dict[str, int]:
        """{task id: how many of this dataset's subjects it fitted on}."""
        return _count_by_task(self.fitted)

    def fitted_groups_by(self, groups: Iterable[str]) -> dict[str, int]:
        """{task id: how many of ``groups`` it fitted on}."""
        return _count_by_task({g: self.fitted_groups[g] for g in groups if g in self.fitted_groups})


Lineage = dict[str, Seen]  # dataset checksum -> what ancestors used of it


def _count_by_task(ids: dict[str, list[str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for tasks in ids.values():
        for t in tasks:
            out[t] = out.get(t, 0) + 1
    return out


def lineage_record(checksum_ids: Iterable[tuple[str, str, Sequence[str]]]) -> dict:
    """The JSON a task stores: {checksum: {role: [ids]}} from (checksum, role, ids) triples."""
    out: dict[str, dict[str, list[str]]] = {}
    for checksum, role, ids in checksum_ids:
        out.setdefault(checksum, {}).setdefault(role, []).extend(str(i) for i in ids)
    return out


def lineage_of_splits(splits: list[tuple[str, dict]]) -> Lineage:
    """The lineage of the ancestors' recorded splits ((task id, ``result.splits``) pairs): the
    subjects and the groups each used."""
    return build_lineage([(t, s.get("lineage")) for t, s in splits], [(t, s.get("lineage_groups")) for t, s in splits])


def build_lineage(records: Iterable[tuple[str, dict | None]],
                  group_records: Iterable[tuple[str, dict | None]] = ()) -> Lineage:
    """The ancestors' ``lineage_record``s, (task id, record) pairs, merged by checksum; with
    ``group_records`` (their ``lineage_groups``, same layout) the groups they fitted on too."""
    lineage: Lineage = {}
    for task_id, record in records:
        for checksum, roles in (record or {}).items():
            seen = lineage.setdefault(checksum, Seen())
            for role, ids in roles.items():
                _add(seen.fitted if role in FIT_ROLES else seen.tested, ids, task_id)
    for task_id, record in group_records:
        for checksum, roles in (record or {}).items():
            seen = lineage.setdefault(checksum, Seen())
            for role in FIT_ROLES:
                _add(seen.fitted_groups, roles.get(role) or [], task_id)
    return lineage


def _add(target: dict[str, list[str]], ids: Iterable, task_id: str) -> None:
    for i in ids:
        tasks = target.setdefault(str(i), [])
        if task_id not in tasks:
            tasks.append(task_id)


@dataclass(frozen=True)
class Pools:
    """Index lists into a dataset: what its test role may take, what its train/val roles may."""

    test: list[int]
    fit: list[int]


def pools(ids: Sequence[str], seen: Seen, roles: Sequence[str],
          groups: Sequence[str] | None = None) -> Pools:
    """The rule of the module docstring for a dataset of ``ids`` (and ``groups``) named in ``roles``."""
    fitted_group = (lambda i: False) if groups is None else (lambda i: groups[i] in seen.fitted_groups)
    test = ([i for i, s in enumerate(ids) if s not in seen.fitted and not fitted_group(i)]
            if "test" in roles else [])
    taken = set(test)
    fit = [i for i, s in enumerate(ids) if s not in seen.tested and i not in taken]
    return Pools(test, fit if any(r in FIT_ROLES for r in roles) else [])


def pool_sizes(n: int, seen: Seen, roles: Sequence[str]) -> tuple[int, int]:
    """(test pool size, fit pool size) that ``pools`` gives a dataset of ``n`` subjects whose ids
    include every id in ``seen`` (true when ``seen`` was recorded for this dataset's checksum)."""
    fitted, tested = set(seen.fitted), set(seen.tested)
    if "test" in roles:
        test, fit = n - len(fitted), len(fitted - tested)
    else:
        test, fit = 0, n - len(tested)
    return test, (fit if any(r in FIT_ROLES for r in roles) else 0)


def seen_in_test(test: Iterable[tuple[str, Sequence[str]]], lineage: Lineage) -> dict:
    """How many ids of a test set, (checksum, ids) per dataset, ancestors fitted on, and which
    tasks did: the mark a result carries when its form allowed testing on seen subjects."""
    hits: dict[str, list[str]] = {}
    for checksum, ids in test:
        seen = lineage.get(checksum)
        if seen is not None:
            hits.update({f"{checksum}/{s}": seen.fitted[s] for s in ids if s in seen.fitted})
    return {"n": len(hits), "tasks": _count_by_task(hits)}


def groups_seen_in_test(test: Iterable[tuple[str, Sequence[str]]], lineage: Lineage) -> dict[str, list[str]]:
    """{group: tasks} of a test set's groups, (checksum, groups) per dataset, that ancestors
    trained or validated on: part of the mark of a form that allowed testing on them."""
    hits: dict[str, list[str]] = {}
    for checksum, groups in test:
        seen = lineage.get(checksum)
        if seen is not None:
            hits.update({g: seen.fitted_groups[g] for g in groups if g in seen.fitted_groups})
    return dict(sorted(hits.items()))


def tested_on_seen(mark: dict | None) -> bool:
    """Whether a record's ``seen_in_test`` says the test set held subjects, groups or copies of
    subjects that the task's ancestors (or the task itself) fitted on."""
    mark = mark or {}
    return bool(mark.get("n") or mark.get("groups") or (mark.get("copies") or {}).get("n"))
