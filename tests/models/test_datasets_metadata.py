"""describe(): counts, symmetry, and a checksum of the arrays rather than of the zip bytes."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np

from models.datasets.metadata import SYMMETRY_ATOL, checksum, describe
from models.datasets.npz import load_npz
from models.datasets.types import ConnectomeDataset
from tests.models.dataset_builders import matrices


def _dataset(**changes) -> ConnectomeDataset:
    ds = ConnectomeDataset(
        conn=matrices(7, 5),
        labels=np.array([0, 1, 1, 0, 1, 1, 1], np.int64),
        subjects=tuple(f"s{i}" for i in range(7)),
        class_names=("NC", "SZ", "BP"),
        features=np.arange(7 * 5 * 2, dtype=np.float32).reshape(7, 5, 2),
        feature_names=("GMV", "ReHo"),
    )
    return replace(ds, **changes)


def test_describe_values_are_json_ready():
    meta = describe(_dataset())
    assert json.loads(json.dumps(meta)) == meta
    assert {k: v for k, v in meta.items() if k != "checksum"} == {
        "n_subjects": 7, "n_regions": 5, "n_features": 2, "feature_names": ["GMV", "ReHo"],
        "class_names": ["NC", "SZ", "BP"], "class_counts": {"NC": 2, "SZ": 5, "BP": 0},
        "symmetric": True,
    }
    assert len(meta["checksum"]) == 64
    assert describe(_dataset(labels=np.array([1, 1, 0, 1, 1, 1, 1])))["checksum"] != meta["checksum"], \
        "the checksum ignores the labels"


def test_describe_without_features():
    meta = describe(_dataset(features=None, feature_names=()))
    assert meta["n_features"] == 0 and meta["feature_names"] == []


def test_symmetry_has_a_tolerance():
    conn = matrices(7, 5)
    conn[3, 0, 1] += SYMMETRY_ATOL / 10
    assert describe(_dataset(conn=conn))["symmetric"] is True
    conn[3, 0, 1] += 0.01
    assert describe(_dataset(conn=conn))["symmetric"] is False


def test_checksum_ignores_npz_encoding_but_sees_every_array():
    ds = _dataset()
    stored = checksum(ds)
    plain = io.BytesIO()
    np.savez(plain, conn=ds.conn.astype(np.float64), labels=ds.labels.astype(np.int32),
             subjects=np.array(ds.subjects), class_names=np.array(ds.class_names),
             features=ds.features, feature_names=np.array(ds.feature_names))
    assert checksum(load_npz(ds.to_npz_bytes())) == stored
    assert checksum(load_npz(plain.getvalue())) == stored
    assert checksum(ConnectomeDataset.from_npz_bytes(ds.to_npz_bytes())) == stored

    conn = ds.conn.copy()
    conn[0, 1, 2] += 1e-3
    features = ds.features.copy()
    features[6, 4, 1] = 0
    changed = [
        _dataset(conn=conn),
        _dataset(labels=np.array([0, 1, 1, 0, 1, 1, 0], np.int64)),
        _dataset(subjects=("s0", "s1", "s2", "s3", "s4", "s5", "x")),
        _dataset(class_names=("NC", "SZ", "XX")),
        _dataset(features=features),
        _dataset(feature_names=("GMV", "DC")),
        _dataset(features=None, feature_names=()),
    ]
    sums = {checksum(d) for d in changed}
    assert stored not in sums and len(sums) == len(changed)
