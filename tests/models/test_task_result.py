"""The task result's one definition (contracts.task_result): what the engine returns is a
TaskResult, a misspelt key fails where it is written, and stored rows of an older shape load."""

from __future__ import annotations

import json

import pytest
import torch
from pydantic import ValidationError

from models.engine import run_job
from models.job import JobSpec
from contracts.task_result import METRIC_FIELDS, SCORES, StoredTaskResult, TaskResult, metrics_of, result_json
from tests.models.engine_helpers import Recorder, params, split, tiny

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained():
    train, val, test = split(tiny(n=40, regions=16, seed=4))
    return run_job(JobSpec("dl_ts", "SGN-Head", params(epochs=2), train, val, test), Recorder(), device="cpu")


def test_a_real_training_result_round_trips_through_task_result(trained):
    result = trained.result
    assert json.loads(json.dumps(result)) == result  # JSON-ready as stored
    parsed = TaskResult.model_validate(result)  # extra keys forbidden: every key is defined
    assert result_json(**result) == result  # the dump keeps exactly the keys given
    assert parsed.test.n == len(parsed.test.predictions) == 8
    assert parsed.test.intervals["accuracy"].low <= parsed.test_accuracy <= parsed.test.intervals["accuracy"].high
    assert parsed.test_best is not None and parsed.epochs_done == 2
    flat = metrics_of(result)
    assert {f"test_{m}" for m in SCORES if result[f"test_{m}"] is not None} <= set(flat) <= METRIC_FIELDS


def test_a_misspelt_or_mistyped_key_fails_loudly():
    with pytest.raises(ValidationError, match="test_acuracy"):
        result_json(test_acuracy=0.5)
    with pytest.raises(ValidationError, match="test_accuracy"):
        result_json(test_accuracy="high")
    with pytest.raises(ValidationError, match="n"):
        result_json(test={"accuracy": 0.5})  # a test report says on how many subjects


def test_an_old_shaped_stored_result_still_loads():
    old = {"test_accuracy": 0.7, "test_auc": 0.8, "epochs": 5, "notes": "kept",
           "test": {"n": 10, "accuracy": 0.7, "auc": 0.8}}  # no contract, no splits, old names
    loaded = StoredTaskResult.model_validate(old)
    assert loaded.model_dump(mode="json", exclude_unset=True) == old
    assert loaded.contract is None and loaded.test.n == 10
    assert metrics_of(old) == {"test_accuracy": 0.7}  # old names are kept, not shown as metrics
    with pytest.raises(ValidationError):
        TaskResult.model_validate(old)  # what a producer may not write


def test_every_metric_field_is_a_number_field_of_the_result():
    fields = TaskResult.model_fields
    assert METRIC_FIELDS <= set(fields)
    for name in METRIC_FIELDS:
        assert str(fields[name].annotation) in ("float | None", "int | None"), name
    # The keys the listing sorted by and the poll showed before they were derived from the model
    before = {f"{p}_{m}{b}" for p in ("test", "test_best") for m in SCORES for b in ("", "_low", "_high")} | {
        "test_loss", "test_best_loss", "final_val_loss", "final_val_accuracy", "best_val_loss",
        "best_val_accuracy", "best_epoch", "epochs_done", "final_train_accuracy"}
    assert before <= METRIC_FIELDS
