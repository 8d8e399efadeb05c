"""The optional form fields change the training: ``optimizer: sgd``, ``weight_decay`` (an L2
penalty) and ``edge_keep_percent``. Each run is compared with the same run without the option,
and the same run twice is bit-identical, so a difference is the option's doing."""

from __future__ import annotations

import pytest
import torch

from models.engine import run_job
from models.job import JobSpec
from models.weights import read_weights_meta, unpack_weights
from tests.models.engine_helpers import Recorder, params, split, tiny

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    return split(tiny(n=40, regions=16, seed=4))


def train(data, **hp):
    train_set, val, test = data
    hooks = Recorder()
    outcome = run_job(JobSpec("dl_ts", "SGN-Head", params(epochs=2, **hp), train_set, val, test), hooks, device="cpu")
    return [m.train_loss for m in hooks.epochs], outcome


def weight_norm(outcome) -> float:  # noqa: ANN001
    state, _ = unpack_weights(outcome.weights)
    return float(torch.sqrt(sum((t.float() ** 2).sum() for t in state.values())))


def test_the_same_options_train_identically(data):
    (losses_a, a), (losses_b, b) = train(data), train(data)
    assert losses_a == losses_b and a.weights == b.weights


@pytest.mark.parametrize("option", [{"optimizer": "sgd"}, {"weight_decay": 0.05}, {"edge_keep_percent": 20}],
                         ids=lambda o: next(iter(o)))
def test_each_option_changes_the_training(data, option):
    base_losses, base = train(data)
    losses, outcome = train(data, **option)
    assert losses != base_losses
    assert outcome.result["params"] | option == outcome.result["params"]


def test_weight_decay_shrinks_the_weights(data):
    _, plain = train(data, optimizer="sgd", learning_rate=0.05)
    _, decayed = train(data, optimizer="sgd", learning_rate=0.05, weight_decay=0.5)
    assert weight_norm(decayed) < weight_norm(plain)


def test_edge_keep_percent_is_recorded_in_the_weights_for_serving(data):
    _, outcome = train(data, edge_keep_percent=20)
    assert read_weights_meta(outcome.weights)["graph"]["edge_keep_percent"] == 20
    assert outcome.result["graph"]["edge_keep_percent"] == 20
