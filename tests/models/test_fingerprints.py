"""Subject fingerprints: an exact copy under another id, a re-export rounded differently and a
near-copy (tiny noise) are caught; other subjects, and a subject compared with itself, are not."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.datasets.fingerprints import (NEAR_COPY, SKETCH_SIZE, Source, copied, copies_in, fingerprint,
                                          from_bytes, to_bytes)
from models.datasets.synthetic import synthetic_aal90
from tests.models.test_datasets_splits import _dataset


def _renamed(ds, prefix="copy"):
    return replace(ds, subjects=tuple(f"{prefix}{i:03d}" for i in range(ds.n_subjects)))


@pytest.fixture(scope="module")
def cohort():
    return synthetic_aal90(30, seed=4, n_regions=90)  # real-looking, strongly alike matrices


def test_a_copy_under_other_ids_is_caught_and_the_rest_are_not(cohort):
    original = fingerprint(cohort.subset(range(10)))
    copy = fingerprint(_renamed(cohort.subset(range(5))))
    others = fingerprint(cohort.subset(range(10, 30)))
    assert copied(copy, original).all()
    assert not copied(others, original).any()
    assert copy.digests == original.digests[:5]


def test_a_re_export_rounding_differently_is_caught_by_correlation_not_hash(cohort):
    ds = cohort.subset(range(10))
    rounded = replace(_renamed(ds), conn=np.round(ds.conn.astype(np.float64) + 4.9e-5, 4).astype(np.float32))
    source, test = fingerprint(ds), fingerprint(rounded)
    assert not set(test.digests) & set(source.digests)  # every hash differs
    assert copied(test, source).all()


def test_a_near_copy_with_tiny_noise_is_caught(cohort):
    ds = cohort.subset(range(10))
    noise = np.random.default_rng(0).normal(0, 1e-3, ds.conn.shape).astype(np.float32)
    noisy = replace(_renamed(ds), conn=ds.conn + (noise + noise.transpose(0, 2, 1)) / 2)
    assert copied(fingerprint(noisy), fingerprint(ds)).all()
    far = replace(_renamed(ds), conn=ds.conn + 0.3 * (noise + noise.transpose(0, 2, 1)) / 2e-3)
    assert not copied(fingerprint(far), fingerprint(ds)).any()


def test_a_subject_is_not_a_copy_of_itself_in_its_own_dataset():
    ds = _dataset((10, 10), regions=8)
    prints = fingerprint(ds)
    assert not copied(prints, prints, same_dataset=True).any()
    assert copied(prints, prints).all()  # another dataset holding the same ids and matrices
    doubled = replace(ds, conn=np.concatenate([ds.conn[:19], ds.conn[:1]]))  # subject 19 copies subject 0
    found = copied(fingerprint(doubled), fingerprint(doubled), same_dataset=True)
    assert np.flatnonzero(found).tolist() == [0, 19]


def test_copies_are_counted_per_source_dataset(cohort):
    a, b = fingerprint(cohort.subset(range(10))), fingerprint(cohort.subset(range(10, 20)))
    test = fingerprint(_renamed(cohort.subset([0, 1, 2, 12, 25])))
    n, found = copies_in(test, {("name", "T")}, [Source("A", a, ("t1",), ("name", "A")),
                                                  Source("B", b, ("t2",), ("name", "B"))])
    assert n == 4 and [(c.dataset, c.n, c.tasks) for c in found] == [("A", 3, ("t1",)), ("B", 1, ("t2",))]


def test_prints_round_trip_and_sample_large_matrices(cohort):
    prints = fingerprint(cohort)
    back = from_bytes(to_bytes(prints))
    assert back.subjects == prints.subjects and back.digests == prints.digests
    assert np.array_equal(back.sketch, prints.sketch) and back.sketch.shape == (30, SKETCH_SIZE)
    assert fingerprint(_dataset(regions=8)).sketch.shape[1] == 28  # the whole triangle
    assert NEAR_COPY == 0.999


def test_an_exact_copy_is_caught_where_correlation_says_nothing():
    flat = _dataset((3, 3), regions=4)
    flat = replace(flat, conn=np.stack([np.full((4, 4), 0.1 * i, np.float32) for i in range(6)]))
    copy = fingerprint(_renamed(flat.subset([0, 4])))
    assert copied(copy, fingerprint(flat)).all()  # constant triangles: no correlation to compare
    assert not copied(copy, fingerprint(flat.subset([1, 2, 3, 5]))).any()
