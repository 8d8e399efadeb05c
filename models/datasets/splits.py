"""Give a task its train / val / test data from the datasets its form names.

A dataset named in one role is used whole. A dataset named in several roles (the seed form names
the same dataset for train, val and test) is split into disjoint, label-stratified, seeded
partitions among exactly those roles. Several datasets in one role are concatenated. The record
returned alongside says which subject went where, for the task to store as JSON.

Rounding: within each class, role r's share is n·w_r / Σw (weights renormalised over the roles
sharing the dataset). Every role gets the floor of its share; the subjects left over go one each
to the roles with the largest fractional remainders (ties to the earlier role in train, val, test
order). Then, while some role has none of the class and another has more than one, the role with
the most (ties: the later role) gives one to the first empty role, so every role gets at least one
subject of a class that has at least as many subjects as there are roles.

Groups: a dataset with groups (sites, scanners, families) is split by whole groups unless the form
says ``split_by: "subjects"`` (models.datasets.group_splits): role r gets ``group_shares`` of the
groups, the same rounding over groups, then at least MIN_GROUPS each. The record names each role's
groups, ``split_by``, and ``groups_mixed`` (true when grouped data was split subject by subject).
"""

from __future__ import annotations

import hashlib
import math
from typing import Sequence

import numpy as np

from models.datasets.group_splits import (MIN_GROUPS, GroupSplitError, cut_groups, enough_groups, group_notes,
                                          merged_groups)
from models.datasets.lineage import Lineage, Seen, groups_seen_in_test, lineage_record, pools, seen_in_test
from models.datasets.types import ConnectomeDataset
from contracts.task_needs import ROLES

DEFAULT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
Parts = list[tuple[str, ConnectomeDataset]]  # (dataset name, its subjects for one role)


class DatasetMismatchError(ValueError):
    """Datasets that must be used together disagree on regions, features or classes."""


def allocate(n: int, weights: list[float]) -> list[int]:
    """``n`` items shared among len(weights) roles by the rounding rule in the module docstring."""
    total = sum(weights)
    quotas = [n * w / total for w in weights]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    while 0 in counts and max(counts) > 1:
        donor = max(range(len(counts)), key=lambda i: (counts[i], i))
        counts[donor] -= 1
        counts[counts.index(0)] += 1
    return counts


def group_shares(n_groups: int, weights: list[float]) -> list[int]:
    """Groups per part: ``allocate``'s rounding, then while a part has fewer than MIN_GROUPS the
    part with the most (ties: the later) gives one to the first with fewest. Raises
    GroupSplitError when there are fewer than MIN_GROUPS groups per part."""
    if not enough_groups(n_groups, len(weights)):
        raise GroupSplitError(f"it has {n_groups} groups; a split by groups among {len(weights)} roles "
                              f"needs at least {MIN_GROUPS} per role ({MIN_GROUPS * len(weights)})")
    counts = allocate(n_groups, weights)
    while min(counts) < MIN_GROUPS:
        donor = max(range(len(counts)), key=lambda i: (counts[i], i))
        counts[donor] -= 1
        counts[counts.index(min(counts))] += 1
    return counts


def split_parts(ds, weights: list[float], rng: np.random.Generator, by_groups: bool = False) -> list[np.ndarray]:
    """``partition``, or with ``by_groups`` on a dataset with groups, parts of whole groups
    (``group_shares`` of them each; group_splits.cut_groups). Raises GroupSplitError."""
    groups = getattr(ds, "groups", None)
    if not by_groups or groups is None:
        return partition(ds, weights, rng)
    counts = group_shares(len(set(groups)), weights)
    return cut_groups(ds.labels, np.asarray(groups), counts, int(rng.integers(2**31)))


def _rng(seed: int, name: str) -> np.random.Generator:
    """A generator fixed by the seed and the dataset's name, so datasets shuffle independently."""
    tag = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng([seed % 2**64, tag])


def partition(ds: ConnectomeDataset, weights: list[float], rng: np.random.Generator) -> list[np.ndarray]:
    """Disjoint, label-stratified index arrays (sorted), one per weight, covering every subject."""
    parts: list[list[int]] = [[] for _ in weights]
    for c in range(ds.n_classes):
        idx = np.flatnonzero(ds.labels == c)
        rng.shuffle(idx)
        start = 0
        for part, k in zip(parts, allocate(len(idx), weights)):
            part.extend(idx[start:start + k].tolist())
            start += k
    return [np.array(sorted(p), dtype=np.int64) for p in parts]


def split_among(ds, ids: Sequence[str], roles: Sequence[str], weights: dict[str, float],
                rng: np.random.Generator, seen: Seen | None, by_groups: bool = False) -> list[np.ndarray]:
    """Index arrays into ``ds`` (anything with ``labels``, ``n_classes`` and ``subset``; and
    ``groups``), one per role in ``roles``. Without ``seen`` a dataset in one role is used whole
    and one in several is ``split_parts``ed; with ``seen`` (what ancestors used of it) the test
    role takes the lineage's test pool and the other roles share its fit pool
    (models.datasets.lineage). Raises GroupSplitError."""
    if seen is None:
        if len(roles) == 1:
            return [np.arange(len(ids), dtype=np.int64)]
        return split_parts(ds, [weights[r] for r in roles], rng, by_groups)
    pool = pools(ids, seen, roles, getattr(ds, "groups", None))
    fit_roles = [r for r in roles if r != "test"]
    fit_idx = np.array(pool.fit, dtype=np.int64)
    if len(fit_roles) > 1:
        parts = split_parts(ds.subset(fit_idx), [weights[r] for r in fit_roles], rng, by_groups)
        shares = [fit_idx[p] for p in parts]
    else:
        shares = [fit_idx] if fit_roles else []
    by_role = dict(zip(fit_roles, shares))
    by_role["test"] = np.array(pool.test, dtype=np.int64)
    return [by_role[r] for r in roles]


def _check_roles(roles: dict[str, list[str]],
                 datasets: dict[str, ConnectomeDataset]) -> dict[str, list[str]]:
    """Every role (empty when absent). Raises ValueError: unknown role or dataset, a dataset
    named twice in one role."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {', '.join(ROLES)}")
    named = {r: list(roles.get(r) or []) for r in ROLES}
    for role, names in named.items():
        for name in names:
            if name not in datasets:
                raise ValueError(f"role {role!r} names dataset {name!r}, which was not given")
            if names.count(name) > 1:
                raise ValueError(f"role {role!r} names dataset {name!r} more than once")
    return named


def _weights(fractions: dict[str, float] | None) -> dict[str, float]:
    """Raises ValueError: unknown role, a weight that is not a positive finite number."""
    merged = {**DEFAULT_FRACTIONS, **(fractions or {})}
    if set(merged) - set(ROLES):
        raise ValueError(f"fractions name unknown roles {sorted(set(merged) - set(ROLES))}")
    for role, w in merged.items():
        if not (isinstance(w, (int, float)) and math.isfinite(w) and w > 0):
            raise ValueError(f"fraction for {role!r} must be a positive number, got {w!r}")
    return {r: float(merged[r]) for r in ROLES}


def _check_compatible(pairs: Parts) -> None:
    """Raises DatasetMismatchError naming both datasets when regions, feature count or the set
    of class names differ."""
    ref_name, ref = pairs[0]
    for name, ds in pairs[1:]:
        for what, a, b in (("regions", ref.n_regions, ds.n_regions),
                           ("node features", ref.n_features, ds.n_features),
                           ("classes", sorted(ref.class_names), sorted(ds.class_names))):
            if a != b:
                raise DatasetMismatchError(f"datasets {ref_name!r} and {name!r} cannot be used "
                                           f"together: {what} {a} versus {b}")


def _remapped_labels(ds: ConnectomeDataset, class_names: tuple[str, ...]) -> np.ndarray:
    index = {name: k for k, name in enumerate(class_names)}
    return np.array([index[n] for n in ds.class_names], np.int64)[ds.labels]


def concatenate(parts: Parts, class_names: tuple[str, ...]) -> tuple[ConnectomeDataset, bool]:
    """One dataset from ``parts`` (labels in ``class_names`` order), and whether subject ids were
    prefixed with their dataset name to keep them unique. Raises ValueError if still not unique."""
    ids = [s for _, ds in parts for s in ds.subjects]
    prefixed = len(set(ids)) != len(ids)
    if prefixed:
        ids = [f"{name}/{s}" for name, ds in parts for s in ds.subjects]
        if len(set(ids)) != len(ids):
            raise ValueError(f"subject ids of datasets {[n for n, _ in parts]} collide even with "
                             "their dataset names as prefixes")
    first = parts[0][1]
    merged = ConnectomeDataset(
        conn=np.concatenate([ds.conn for _, ds in parts]),
        labels=np.concatenate([_remapped_labels(ds, class_names) for _, ds in parts]),
        subjects=tuple(ids),
        class_names=class_names,
        features=None if first.features is None else np.concatenate([ds.features for _, ds in parts]),
        feature_names=first.feature_names,
        groups=merged_groups(parts),
    )
    return merged, prefixed


def _role_record(parts: Parts, ds: ConnectomeDataset | None, prefixed: bool) -> dict:
    if ds is None:
        return {"datasets": [], "n_subjects": 0, "class_counts": {}, "prefixed": False, "subjects": []}
    counts = np.bincount(ds.labels, minlength=ds.n_classes)
    return {
        "datasets": [name for name, _ in parts],
        "n_subjects": ds.n_subjects,
        "class_counts": {n: int(c) for n, c in zip(ds.class_names, counts)},
        "prefixed": prefixed,  # True: ids in the dataset are "<dataset>/<subject>"
        "subjects": [[name, s] for name, part in parts for s in part.subjects],
        **({} if ds.groups is None else {"groups": [[name, g] for name, part in parts if part.groups is not None
                                                    for g in sorted(set(part.groups))]}),
    }


def _pieces(named: dict[str, list[str]], datasets: dict[str, ConnectomeDataset], seed: int,
            weights: dict[str, float], seen: dict[str, Seen | None], split_by: str | None = None,
            ) -> tuple[dict[str, Parts], dict[str, list[str]]]:
    """Per role, (dataset name, its subjects for that role); and which datasets were split how.
    ``seen`` gives, per dataset name, what the task's ancestors used of it (None: nothing).
    Raises ValueError when a split leaves a role without any subject of a dataset, or cannot be
    made by groups."""
    sharing = {name: [r for r in ROLES if name in named[r]]
               for names in named.values() for name in names}
    split = {name: rs for name, rs in sharing.items() if len(rs) > 1}
    share: dict[tuple[str, str], ConnectomeDataset] = {}
    for name, rs in sharing.items():
        ds = datasets[name]
        for role, idx in zip(rs, _split(name, ds, rs, weights, _rng(seed, name), seen.get(name), split_by)):
            if len(idx) == 0:
                raise ValueError(_empty_role(name, ds.n_subjects, rs, role, seen.get(name)))
            share[(role, name)] = ds.subset(idx)
    return {r: [(n, share[(r, n)]) for n in named[r]] for r in ROLES}, split


def _split(name: str, ds: ConnectomeDataset, roles: list[str], weights: dict[str, float],
           rng: np.random.Generator, seen: Seen | None, split_by: str | None) -> list[np.ndarray]:
    """``split_among`` by groups unless ``split_by`` is "subjects". Raises ValueError naming the
    dataset when ``split_by`` is "groups" and it has none, or it has too few groups."""
    if len(roles) > 1 and split_by == "groups" and ds.groups is None:
        raise ValueError(f"dataset {name!r} has no groups to split by (split_by \"groups\")")
    try:
        return split_among(ds, ds.subjects, roles, weights, rng, seen, split_by != "subjects")
    except GroupSplitError as exc:
        raise ValueError(f"dataset {name!r} cannot be split by groups among {', '.join(roles)}: {exc}; "
                         f"send split_by \"subjects\" to split it subject by subject") from None


def _empty_role(name: str, n: int, roles: list[str], role: str, seen: Seen | None) -> str:
    if seen is None:
        return (f"dataset {name!r} has too few subjects ({n}) to split among {', '.join(roles)}: "
                f"{role!r} would get none")
    return (f"dataset {name!r}: no subject is left for {role!r} once the subjects this task's "
            f"ancestors trained, validated or tested on (and the groups they trained or validated "
            f"on) are held apart")


def assign_roles(roles: dict[str, list[str]], datasets: dict[str, ConnectomeDataset], *, seed: int,
                 fractions: dict[str, float] | None = None, checksums: dict[str, str] | None = None,
                 lineage: Lineage | None = None, allow_seen_test: bool = False,
                 split_by: str | None = None) -> tuple[dict[str, ConnectomeDataset | None], dict]:
    """The data of each role ("train", "val", "test"; None for a role with no dataset) and a
    JSON-ready record: seed, fractions, ``split`` ({dataset: roles it was split among}) and per
    role its datasets, n_subjects, class_counts and subjects as [dataset, subject id] pairs in the
    order of the role's dataset. Class indices follow the first dataset named (train first).

    With ``checksums`` ({dataset name: checksum}) the record also holds them and ``lineage`` (what
    this task used, per checksum and role, for its descendants); with ``lineage`` (what the
    task's ancestors used) datasets they used follow models.datasets.lineage's rule, unless
    ``allow_seen_test``: then the split ignores the lineage and the record's ``seen_in_test``
    says how many test subjects ancestors fitted on (and ``groups``, their groups ancestors fitted on).

    ``split_by``: "groups" (None: where a dataset has groups) splits grouped datasets by whole
    groups, "subjects" subject by subject (module docstring); with groups the record says
    ``split_by``, ``groups_mixed`` and each role's ``groups``.

    ``fractions`` override DEFAULT_FRACTIONS (weights, renormalised among the roles sharing a
    dataset). Same seed, same split.
    Raises ValueError: unknown role or dataset, a dataset named twice in a role, bad fractions, a
    split too small to give every sharing role a subject (or MIN_GROUPS groups); DatasetMismatchError (a
    ValueError) when the datasets disagree on regions, feature count or class names.
    """
    named = _check_roles(roles, datasets)
    weights = _weights(fractions)
    checksums = checksums or {}
    ancestors = lineage or {}
    seen = {} if allow_seen_test else {n: ancestors.get(checksums.get(n, "")) for n in datasets}
    pieces, split = _pieces(named, datasets, seed, weights, seen, split_by)
    used = list(dict.fromkeys(n for r in ROLES for n in named[r]))
    if used:
        _check_compatible([(n, datasets[n]) for n in used])
    class_names = datasets[used[0]].class_names if used else ()
    out: dict[str, ConnectomeDataset | None] = {}
    record = {"seed": int(seed), "fractions": weights, "split": split, "roles": {},
              **group_notes([datasets[n] for n in used], [datasets[n] for n in split], split_by)}
    for role in ROLES:
        ds, prefixed = concatenate(pieces[role], class_names) if pieces[role] else (None, False)
        out[role] = ds
        record["roles"][role] = _role_record(pieces[role], ds, prefixed)
    if checksums:
        record.update(_lineage_notes(pieces, checksums, ancestors, seen, allow_seen_test))
    return out, record


def _lineage_notes(pieces: dict[str, Parts], checksums: dict[str, str], ancestors: Lineage,
                   seen: dict[str, Seen | None], allow_seen_test: bool) -> dict:
    """What the record says about lineage: checksums, this task's own use (``lineage``), which
    datasets followed an ancestor's split (``inherited``), and with ``allow_seen_test`` the
    overlap of the test set with what ancestors fitted on (``seen_in_test``)."""
    notes: dict = {
        "checksums": {n: checksums[n] for r in ROLES for n, _ in pieces[r]},
        "lineage": lineage_record((checksums[n], r, part.subjects) for r in ROLES for n, part in pieces[r]),
        "inherited": {n: s.tasks() for n, s in seen.items() if s is not None},
    }
    grouped = lineage_record((checksums[n], r, sorted(set(part.groups)))
                             for r in ROLES for n, part in pieces[r] if part.groups is not None)
    if grouped:
        notes["lineage_groups"] = grouped
    if allow_seen_test:
        notes["seen_in_test"] = seen_in_test(((checksums[n], part.subjects) for n, part in pieces["test"]),
                                             ancestors)
        groups = groups_seen_in_test(((checksums[n], part.groups) for n, part in pieces["test"]
                                      if part.groups is not None), ancestors)
        if groups:
            notes["seen_in_test"]["groups"] = groups
    return notes
