"""Cutting subjects into parts made of whole groups (sites, scanners, families) with
scikit-learn's GroupShuffleSplit, so no group is on two sides. scikit-learn is imported where a
cut is made: the API reads MIN_GROUPS and the record helpers here without loading it.

Multi-site data split subject by subject puts subjects of one scanner on both sides, and a
classifier can score by recognising the site. Here every part holds whole groups, at least
MIN_GROUPS of them: one site alone is neither a training set nor a test of unseen sites.
GroupShuffleSplit does not stratify, so each cut takes, of CANDIDATES seeded draws, the one whose
class mix is closest to that of the subjects it cuts from (a stratified group split).
"""

from __future__ import annotations

import numpy as np

MIN_GROUPS = 2
CANDIDATES = 20


def enough_groups(n_groups: int, parts: int) -> bool:
    """Whether ``n_groups`` whole groups can make ``parts`` sides of MIN_GROUPS groups each."""
    return n_groups >= MIN_GROUPS * parts


class GroupSplitError(ValueError):
    """Too few groups to give every part MIN_GROUPS of them."""


def _mix(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.bincount(labels, minlength=n_classes) / max(len(labels), 1)


def cut(labels: np.ndarray, groups: np.ndarray, n_groups: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, cut) index arrays: ``n_groups`` whole groups cut off, the best-stratified of
    CANDIDATES GroupShuffleSplit draws seeded with ``seed``."""
    from sklearn.model_selection import GroupShuffleSplit  # workers only (module docstring)

    n_classes = int(labels.max()) + 1
    whole = _mix(labels, n_classes)
    splitter = GroupShuffleSplit(n_splits=CANDIDATES, test_size=n_groups, random_state=seed)
    draws = list(splitter.split(np.zeros((len(labels), 1)), labels, groups))
    return min(draws, key=lambda d: float(np.abs(_mix(labels[d[1]], n_classes) - whole).sum()))


def cut_groups(labels: np.ndarray, groups: np.ndarray, counts: list[int], seed: int) -> list[np.ndarray]:
    """Disjoint sorted index arrays, part k made of ``counts[k]`` whole groups, covering every
    subject: the last part is cut first, then the one before it, and the first keeps the rest."""
    if len(np.unique(groups)) != sum(counts) or min(counts) < MIN_GROUPS:
        raise GroupSplitError(f"{len(np.unique(groups))} groups cannot make parts of {counts} groups")
    rest = np.arange(len(labels))
    parts: list[np.ndarray] = []
    for k, n in enumerate(reversed(counts[1:])):
        kept, taken = cut(labels[rest], groups[rest], n, seed + k)
        parts.insert(0, np.sort(rest[taken]))
        rest = rest[kept]
    return [np.sort(rest)] + parts


def group_names(groups, idx) -> list[str]:
    """The distinct groups of the subjects at ``idx``, sorted."""
    return sorted({str(groups[i]) for i in idx})


def merged_groups(parts) -> tuple[str, ...] | None:
    """The groups of (dataset name, dataset) ``parts`` put together (one name is one group,
    whichever dataset it comes from: a pool never splits it); a part without groups gives each
    subject a group of its own, "<dataset>/<id>". None when no part has groups."""
    if all(ds.groups is None for _, ds in parts):
        return None
    return tuple(g for name, ds in parts for g in (ds.groups or [f"{name}/{s}" for s in ds.subjects]))


def group_notes(used, split, split_by: str | None) -> dict:
    """What a split's record says with grouped data among the datasets ``used``: ``split_by`` and
    ``groups_mixed`` (true when one of the datasets ``split`` among roles has groups and was
    split subject by subject). Empty without groups."""
    if all(ds.groups is None for ds in used):
        return {}
    by_subjects = split_by == "subjects"
    return {"split_by": "subjects" if by_subjects else "groups",
            "groups_mixed": by_subjects and any(ds.groups is not None for ds in split)}
