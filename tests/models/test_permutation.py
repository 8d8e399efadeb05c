"""The permutation test: significant where the labels carry signal, not where they were
shuffled beforehand; p = (C + 1) / (n + 1) as in scikit-learn's permutation_test_score."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.engine import run_job
from models.job import HyperParams, JobSpec
from models.permutation import permuted_spec
from tests.models.engine_helpers import Recorder, split, tiny

PARAMS = HyperParams(learning_rate=0.01, batch_size=10, lr_step_size=60, lr_decay=0.2, epochs=10)


def _cohort(shuffled: bool):
    ds = tiny(60, regions=12, effect=1.0, hub_effect=0.9)
    if shuffled:
        ds = replace(ds, labels=np.random.default_rng(5).permutation(ds.labels))
    return split(ds, (0.6, 0.2, 0.2))


def _p_value(shuffled: bool) -> dict:
    train, val, test = _cohort(shuffled)
    out = run_job(JobSpec("dl_ts", "MLP", PARAMS, train, val, test, n_permutations=19), Recorder(), "cpu")
    record = out.result["permutation_test"]
    beaten = sum(s >= out.result["test_accuracy"] for s in record["permutation_scores"])
    assert record["p_value"] == (beaten + 1) / 20 == out.result["test_permutation_p_value"]
    return record


@pytest.mark.slow
def test_significant_with_signal_not_on_shuffled_labels():
    assert _p_value(shuffled=False)["p_value"] <= 0.05
    assert _p_value(shuffled=True)["p_value"] > 0.05


def test_a_permutation_shuffles_labels_across_all_subjects_and_keeps_the_data():
    train, val, test = _cohort(False)
    spec = JobSpec("dl_ts", "MLP", PARAMS, train, val, test)
    shuffled = permuted_spec(spec, np.random.default_rng([0, 0]))
    before = np.concatenate([train.labels, val.labels, test.labels])
    after = np.concatenate([shuffled.train.labels, shuffled.val.labels, shuffled.test.labels])
    assert sorted(before) == sorted(after) and not np.array_equal(before, after)
    assert shuffled.train.subjects == train.subjects and shuffled.train.conn is train.conn
