"""Held-out lineage: a child's splits keep away from what its ancestors saw."""

from __future__ import annotations

import numpy as np
import pytest

from models.datasets.lineage import Seen, build_lineage, pool_sizes, pools
from models.datasets.splits import assign_roles
from tests.models.test_datasets_splits import _dataset

CK = {"A": "checksum-a", "B": "checksum-b"}
SHARED = {"train": ["A"], "val": ["A"], "test": ["A"]}


def _ids(record: dict, role: str) -> set[str]:
    return {s for _, s in record["roles"][role]["subjects"]}


def _run(datasets, roles, seed, chain, fractions=None, allow=False):
    """One task of a chain: its split given its ancestors' records, and its own record."""
    lineage = build_lineage(chain)
    return assign_roles(roles, datasets, seed=seed, fractions=fractions, checksums=CK, lineage=lineage,
                        allow_seen_test=allow)


def test_evaluation_on_the_parents_dataset_takes_exactly_its_test_subjects():
    data = {"A": _dataset()}
    _, parent = _run(data, SHARED, 0, [])
    parts, ev = _run(data, {"test": ["A"]}, 7, [("P", parent["lineage"])])
    assert set(parts["test"].subjects) == _ids(parent, "test")
    assert ev["inherited"] == {"A": ["P"]}
    assert ev["lineage"] == {CK["A"]: {"test": sorted(_ids(parent, "test"), key=parts["test"].subjects.index)}}


def test_without_an_ancestor_the_split_is_unchanged():
    data = {"A": _dataset()}
    plain, _ = assign_roles(SHARED, data, seed=3)
    tracked, record = _run(data, SHARED, 3, [])
    for role in ("train", "val", "test"):
        assert plain[role].subjects == tracked[role].subjects
    assert record["inherited"] == {} and "seen_in_test" not in record


@pytest.mark.parametrize("trial", range(25))
def test_a_fine_tune_chain_never_tests_on_what_an_ancestor_fitted_on(trial):
    """Property over random seeds, fractions and chain lengths: every task tests only on
    subjects no ancestor trained or validated on, and trains only outside ancestors' tests."""
    rng = np.random.default_rng(trial)
    data = {"A": _dataset(n_per_class=(int(rng.integers(30, 80)), int(rng.integers(30, 80))), seed=trial)}
    chain: list[tuple[str, dict]] = []
    fitted: set[str] = set()
    tested: set[str] = set()
    for depth in range(int(rng.integers(2, 5))):
        fractions = {r: float(rng.uniform(0.1, 1.0)) for r in ("train", "val", "test")}
        parts, record = _run(data, SHARED, int(rng.integers(0, 2**31)), chain, fractions)
        train, val, test = (set(parts[r].subjects) for r in ("train", "val", "test"))
        assert not test & fitted, f"depth {depth} tests on subjects an ancestor fitted on"
        assert not (train | val) & tested, f"depth {depth} trains on an ancestor's test subjects"
        assert not (train | val) & test and not train & val
        assert test, "a chain on one dataset keeps its held-out subjects"
        fitted |= train | val
        tested |= test
        chain.insert(0, (f"T{depth}", record["lineage"]))


def test_a_dataset_only_in_train_keeps_out_an_ancestors_test_subjects():
    data = {"A": _dataset(), "B": _dataset(prefix="b")}
    _, parent = _run(data, SHARED, 0, [])
    parts, _ = _run(data, {"train": ["A"], "val": ["B"]}, 1, [("P", parent["lineage"])])
    assert set(parts["train"].subjects) == _ids(parent, "train") | _ids(parent, "val")


def test_allowing_seen_subjects_ignores_the_lineage_and_says_how_many():
    data = {"A": _dataset()}
    _, parent = _run(data, SHARED, 0, [])
    parts, ev = _run(data, {"test": ["A"]}, 0, [("P", parent["lineage"])], allow=True)
    assert parts["test"].n_subjects == 140
    fitted = len(_ids(parent, "train") | _ids(parent, "val"))
    assert ev["seen_in_test"] == {"n": fitted, "tasks": {"P": fitted}}


def test_nothing_left_to_test_on_is_refused_by_the_split():
    data = {"A": _dataset()}
    _, parent = _run(data, {"train": ["A"], "val": ["A"]}, 0, [])
    with pytest.raises(ValueError, match="no subject is left for 'test'"):
        _run(data, {"test": ["A"]}, 0, [("P", parent["lineage"])])


@pytest.mark.parametrize("roles", [("test",), ("train",), ("train", "val"), ("train", "val", "test"),
                                   ("val", "test")])
def test_pool_sizes_from_counts_agree_with_the_pools_of_the_ids(roles):
    """The API's count-only answer equals what the worker's ids give."""
    rng = np.random.default_rng(len(roles))
    ids = [f"s{i}" for i in range(60)]
    order = rng.permutation(60)
    seen = Seen(fitted={ids[i]: ["P"] for i in order[:30]}, tested={ids[i]: ["Q"] for i in order[30:42]})
    got = pools(ids, seen, roles)
    assert pool_sizes(60, seen, roles) == (len(got.test), len(got.fit))
