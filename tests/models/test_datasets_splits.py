"""assign_roles(): disjoint, stratified, seeded splits; concatenation; the JSON record."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.datasets.splits import DatasetMismatchError, allocate, assign_roles
from models.datasets.types import ConnectomeDataset

ALL_ROLES = {"train": ["A"], "val": ["A"], "test": ["A"]}


def _dataset(n_per_class=(70, 70), regions=6, class_names=("NC", "SZ"), prefix="sub", features=0, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)]).astype(np.int64)
    rng.shuffle(labels)
    n = len(labels)
    return ConnectomeDataset(
        conn=rng.normal(size=(n, regions, regions)).astype(np.float32),
        labels=labels,
        subjects=tuple(f"{prefix}{i:03d}" for i in range(n)),
        class_names=class_names,
        features=rng.normal(size=(n, regions, features)).astype(np.float32) if features else None,
        feature_names=tuple(f"f{k}" for k in range(features)),
    )


def _names(ds: ConnectomeDataset) -> list[str]:
    return [ds.class_names[i] for i in ds.labels]


@pytest.mark.parametrize("n, weights, expected", [
    (70, [0.7, 0.15, 0.15], [49, 11, 10]),  # 49, 10.5, 10.5: the tie goes to the earlier role
    (10, [0.7, 0.15, 0.15], [7, 2, 1]),
    (3, [0.7, 0.15, 0.15], [1, 1, 1]),  # 2.1, .45, .45 -> 2, 1, 0 -> repaired to one each
    (2, [0.7, 0.15, 0.15], [1, 1, 0]),  # fewer subjects than roles: first roles served
    (1, [0.7, 0.15, 0.15], [1, 0, 0]),
    (0, [0.7, 0.15], [0, 0]),
    (9, [1, 1], [5, 4]),
])
def test_allocate(n, weights, expected):
    assert allocate(n, weights) == expected


def test_allocate_always_sums_to_n_and_serves_every_role_when_possible():
    for n in range(0, 60):
        for weights in ([0.7, 0.15, 0.15], [0.8, 0.2], [0.01, 0.01, 5.0]):
            counts = allocate(n, weights)
            assert sum(counts) == n and min(counts) >= 0
            if n >= len(weights):
                assert min(counts) >= 1


def test_one_dataset_in_three_roles_is_split_disjoint_stratified_and_complete():
    ds = _dataset((70, 50))
    out, record = assign_roles(ALL_ROLES, {"A": ds}, seed=7)
    ids = {role: set(part.subjects) for role, part in out.items()}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    assert ids["train"] | ids["val"] | ids["test"] == set(ds.subjects)
    expected = {"NC": allocate(70, [0.7, 0.15, 0.15]), "SZ": allocate(50, [0.7, 0.15, 0.15])}
    for k, role in enumerate(("train", "val", "test")):
        counts = {name: _names(out[role]).count(name) for name in ("NC", "SZ")}
        assert counts == {name: expected[name][k] for name in counts}
        assert record["roles"][role]["class_counts"] == counts
    # each subject keeps its own matrix and label
    index = {s: i for i, s in enumerate(ds.subjects)}
    for part in out.values():
        rows = [index[s] for s in part.subjects]
        np.testing.assert_array_equal(part.conn, ds.conn[rows])
        np.testing.assert_array_equal(part.labels, ds.labels[rows])


def test_split_is_seeded():
    ds = _dataset()
    first, rec1 = assign_roles(ALL_ROLES, {"A": ds}, seed=1)
    again, rec2 = assign_roles(ALL_ROLES, {"A": ds}, seed=1)
    other, rec3 = assign_roles(ALL_ROLES, {"A": ds}, seed=2)
    assert rec1 == rec2
    assert all(first[r].subjects == again[r].subjects for r in first)
    assert first["test"].subjects != other["test"].subjects
    assert rec1["roles"]["test"]["class_counts"] == rec3["roles"]["test"]["class_counts"]


def test_record_is_json_and_names_every_subject():
    ds = _dataset((12, 8))
    out, record = assign_roles({"train": ["A"], "test": ["A"]}, {"A": ds}, seed=3)
    assert json.loads(json.dumps(record)) == record
    assert record["seed"] == 3 and record["split"] == {"A": ["train", "test"]}
    assert record["roles"]["val"] == {"datasets": [], "n_subjects": 0, "class_counts": {}, "prefixed": False,
                                      "subjects": []}
    assert out["val"] is None
    for role in ("train", "test"):
        entry = record["roles"][role]
        assert entry["datasets"] == ["A"] and entry["n_subjects"] == out[role].n_subjects
        assert entry["subjects"] == [["A", s] for s in out[role].subjects]
    # train and test renormalise 0.7 : 0.15 -> 0.82 : 0.18 of each class
    assert record["roles"]["test"]["class_counts"] == {"NC": 2, "SZ": 1}


def test_custom_fractions():
    out, record = assign_roles({"train": ["A"], "val": ["A"]}, {"A": _dataset((10, 10))}, seed=0,
                               fractions={"train": 1, "val": 1})
    assert out["train"].n_subjects == out["val"].n_subjects == 10
    assert record["fractions"]["val"] == 1.0


def test_dataset_in_one_role_is_used_whole():
    a, b = _dataset((5, 5)), _dataset((3, 4), prefix="other")
    out, record = assign_roles({"train": ["A"], "test": ["B"]}, {"A": a, "B": b}, seed=0)
    assert out["train"].subjects == a.subjects and out["test"].subjects == b.subjects
    assert record["split"] == {}


def test_several_datasets_in_a_role_are_concatenated_with_labels_remapped():
    a = _dataset((4, 6))
    b = _dataset((5, 3), class_names=("SZ", "NC"), seed=1)  # same classes, other order; same ids
    out, record = assign_roles({"train": ["A", "B"]}, {"A": a, "B": b}, seed=0)
    train = out["train"]
    assert train.class_names == ("NC", "SZ") and train.n_subjects == 18
    assert train.subjects[:2] == ("A/sub000", "A/sub001") and train.subjects[10] == "B/sub000"
    assert _names(train) == _names(a) + _names(b)
    np.testing.assert_array_equal(train.conn[10:], b.conn)
    entry = record["roles"]["train"]
    assert entry["prefixed"] is True and entry["subjects"][10] == ["B", "sub000"]
    assert entry["class_counts"] == {"NC": 4 + 3, "SZ": 6 + 5}


def test_no_prefix_when_ids_do_not_collide():
    out, record = assign_roles({"train": ["A", "B"]}, {"A": _dataset((3, 3)), "B": _dataset((3, 3), prefix="x")},
                               seed=0)
    assert out["train"].subjects[0] == "sub000" and record["roles"]["train"]["prefixed"] is False


def test_a_split_dataset_and_a_whole_one_share_a_role():
    a, b = _dataset((20, 20)), _dataset((4, 4), prefix="b")
    out, _ = assign_roles({"train": ["A"], "test": ["A", "B"]}, {"A": a, "B": b}, seed=5)
    assert set(b.subjects) <= set(out["test"].subjects)
    assert not set(out["train"].subjects) & set(out["test"].subjects)


@pytest.mark.parametrize("b, what", [
    (_dataset((3, 3), regions=5), "regions 6 versus 5"),
    (_dataset((3, 3), features=2), "node features 0 versus 2"),
    (_dataset((3, 3), class_names=("NC", "BP")), "classes"),
])
def test_mismatched_datasets_are_refused_naming_both(b, what):
    with pytest.raises(DatasetMismatchError) as info:
        assign_roles({"train": ["A", "B"]}, {"A": _dataset((3, 3)), "B": b}, seed=0)
    assert "'A' and 'B'" in str(info.value) and what in str(info.value)


@pytest.mark.parametrize("roles, fractions, message", [
    ({"training": ["A"]}, None, "unknown roles"),
    ({"train": ["Z"]}, None, "names dataset 'Z', which was not given"),
    ({"train": ["A", "A"]}, None, "more than once"),
    (ALL_ROLES, {"val": 0}, "must be a positive number"),
    (ALL_ROLES, {"dev": 0.2}, "unknown roles"),
])
def test_bad_requests(roles, fractions, message):
    with pytest.raises(ValueError, match=message):
        assign_roles(roles, {"A": _dataset((5, 5))}, seed=0, fractions=fractions)


def test_too_small_to_split():
    with pytest.raises(ValueError, match="too few subjects"):
        assign_roles(ALL_ROLES, {"A": _dataset((1, 1))}, seed=0)


def test_every_role_gets_each_class_when_it_has_enough_subjects():
    ds = _dataset((3, 40))
    for seed in range(5):
        out, _ = assign_roles(ALL_ROLES, {"A": ds}, seed=seed)
        for part in out.values():
            assert set(_names(part)) == {"NC", "SZ"}
