"""models.predict.predict on a downloaded model: the same probabilities the engine's own test
evaluation saw, and input that does not fit the model's contract refused by shape."""

import numpy as np
import pytest
import torch

from models.engine import run_job
from models.job import JobSpec
from models.predict import predict
from tests.models.engine_helpers import Recorder, params, split, tiny

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained():
    train, val, test = split(tiny(n=40, regions=16, seed=4))
    outcome = run_job(JobSpec("dl_ts", "MLP", params(epochs=2), train, val, test), Recorder(), device="cpu")
    return outcome, test


def test_predict_agrees_with_the_engines_test_evaluation(trained):
    outcome, test = trained
    pred = predict(outcome.weights, test.conn)
    assert pred.probabilities.shape == (test.n_subjects, 2)
    assert np.allclose(pred.probabilities.sum(axis=1), 1.0, atol=1e-5)
    truth = [test.class_names[i] for i in test.labels]
    accuracy = np.mean([p == t for p, t in zip(pred.classes, truth)])
    assert accuracy == pytest.approx(outcome.result["test_accuracy"])
    one = predict(outcome.weights, test.conn[0])  # one subject, R×R
    assert np.allclose(one.probabilities[0], pred.probabilities[0], atol=1e-6)


def test_input_that_does_not_fit_is_refused(trained):
    outcome, test = trained
    with pytest.raises(ValueError, match="N×16×16"):
        predict(outcome.weights, test.conn[:, :8, :8])
    with pytest.raises(ValueError, match="node features"):
        predict(outcome.weights, test.conn, features=np.zeros((test.n_subjects, 16, 3)))
