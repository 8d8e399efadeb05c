"""The cross-validated standard baseline on data where it is far from perfect, so that a fit that
saw a fold's test subjects would show: each fold's baseline is fitted on that fold's training part
alone (the job's ``train`` is the whole pool, as tasks.job_inputs builds it), checked against
models.tangent refitted fold by fold."""

from __future__ import annotations

import numpy as np
import pytest

from models.cv import make_folds
from models.datasets.synthetic import synthetic_aal90
from models.engine import run_job
from models.job import JobSpec
from models.tangent import fit_predict
from tests.models.engine_helpers import Recorder, params


def test_each_folds_baseline_is_fitted_without_its_test_subjects():
    pool = synthetic_aal90(48, seed=7, n_regions=16, n_pairs=3, n_modules=3, effect=0.15, hub_effect=0.1)
    folds = make_folds(pool, "stratified_kfold", 3, 1, seed=6)
    parts = tuple((pool.subset(f.train), pool.subset(f.val), pool.subset(f.test)) for f in folds)
    out = run_job(JobSpec("dl_ts", "MLP", params(epochs=1), pool, None, None, folds=parts), Recorder(), "cpu").result
    right = {}
    for train, _val, test in parts:
        right.update(zip(test.subjects, fit_predict(train, test).argmax(axis=1) == test.labels))
    expected = np.mean(list(right.values()))
    assert expected < 0.9  # far from perfect: a baseline that saw the test fold would score higher
    assert out["baseline_test_n"] == pool.n_subjects
    assert out["baseline_test_accuracy"] == pytest.approx(expected)
