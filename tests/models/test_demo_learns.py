"""The demo dataset is one on which the seed's own recipe learns: the seed form run as dl_ts
(GNN = the faithful SGN, lr 0.05, batch 10, StepLR 60/0.2, 20 epochs, the 70/15/15 split of the
one dataset named three times) beats chance with its interval, but is far from perfect."""

from __future__ import annotations

import pytest

from models.datasets.splits import assign_roles
from models.datasets.synthetic import demo_aal90
from models.engine import run_job
from models.job import HyperParams, JobSpec
from tests.models.engine_helpers import Recorder

pytestmark = pytest.mark.slow
SEEDS = range(5)


def _seed_form_result(ds, seed: int) -> dict:
    parts, _ = assign_roles({"train": ["D"], "val": ["D"], "test": ["D"]}, {"D": ds}, seed=seed)
    p = HyperParams(learning_rate=0.05, batch_size=10, lr_step_size=60, lr_decay=0.2, epochs=20, seed=seed)
    return run_job(JobSpec("dl_ts", "GNN", p, parts["train"], parts["val"], parts["test"]), Recorder(), "cpu").result


def test_the_seed_recipe_beats_chance_on_the_demo_data_on_at_least_4_of_5_seeds():
    ds = demo_aal90()
    results = [_seed_form_result(ds, seed) for seed in SEEDS]
    summary = [(round(r["test_accuracy"], 3), round(r["test_accuracy_low"], 3)) for r in results]
    assert all(r["test_chance_level"] == 0.5 for r in results)
    above = sum(r["test_accuracy_low"] > r["test_chance_level"] for r in results)
    assert above >= 4, summary
    mean = sum(r["test_accuracy"] for r in results) / len(results)
    assert 0.65 <= mean <= 0.9, summary  # learns, as SZ-vs-control studies report, but not trivially
    assert max(r["test_accuracy"] for r in results) < 1.0, summary
