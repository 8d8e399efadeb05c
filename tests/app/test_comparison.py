"""GET /api/v0/compare's answer from stored results (app.usecases.comparison, app.usecases.tested_subjects): which
pairs were tested on the same subjects, their subjects lined up whatever the stored order, why a
pair is not pairable, Holm's correction with several pairs, each metric with its own interval."""

from __future__ import annotations

import numpy as np
import pytest

from app.usecases.comparison import comparison
from contracts.replies import Comparison
from models.paired import holm, paired_tests

CLASSES = ["NC", "SZ"]
IDS = [f"sub{i:02d}" for i in range(30)]
LABELS = np.random.default_rng(0).integers(0, 2, len(IDS))


def _result(p_sz, ids=IDS, dataset="demo", checksum="c0ffee", prefixed=False, order=None):
    """A stored result: per-subject predictions and the split that explains them."""
    order = list(range(len(ids))) if order is None else order
    name = (lambda s: f"{dataset}/{s}") if prefixed else (lambda s: s)
    predictions = [{"subject": name(ids[i]), "label": CLASSES[LABELS[i]], "predicted": CLASSES[int(p_sz[i] > .5)],
                    "probabilities": {"NC": 1 - p_sz[i], "SZ": p_sz[i]}} for i in order]
    return {"test_accuracy": 0.7, "test_accuracy_low": 0.5, "test_accuracy_high": 0.85, "test_n": len(ids),
            "test": {"n": len(ids), "class_names": CLASSES, "predictions": predictions},
            "splits": {"checksums": {dataset: checksum},
                       "roles": {"test": {"subjects": [[dataset, s] for s in ids], "prefixed": prefixed}}}}


def _p(seed, signal):
    noise = np.random.default_rng(seed).normal(size=len(IDS))
    return 1 / (1 + np.exp(-(signal * (2 * LABELS - 1) + noise)))


def _task(task_id, result):
    return {"task_id": task_id, "task_name": task_id.lower(), "model": "SGN", "status": "SUCCEEDED", "result": result}


def _answer(*tasks):
    reply = comparison(list(tasks))
    Comparison.model_validate(reply)  # the documented shape
    return reply


def test_two_tasks_on_the_same_subjects_are_paired_subject_by_subject():
    a, b = _p(1, 2.0), _p(2, 0.2)
    shuffled = list(np.random.default_rng(5).permutation(len(IDS)))
    reply = _answer(_task("A", _result(a)), _task("B", _result(b, order=shuffled)))
    [pair] = reply["pairs"]
    assert (pair["a"], pair["b"], pair["pairable"], pair["n_common"]) == ("A", "B", True, 30)
    keys = np.argsort(IDS)  # the subjects in key order
    expected = paired_tests(LABELS[keys], np.c_[1 - a, a][keys], np.c_[1 - b, b][keys])
    assert [r["metric"] for r in pair["paired"]] == ["test_accuracy", "test_balanced_accuracy", "test_roc_auc"]
    for got, want in zip(pair["paired"], expected):
        assert (got["difference"], got["low"], got["high"], got["p_value"]) == \
            (want["difference"], want["low"], want["high"], want["p_value"])
        assert got["p_value_holm"] is None
    assert reply["correction"] is None and reply["correction_note"] is None


def test_prefixed_ids_are_read_through_the_split():
    a, b = _p(1, 2.0), _p(2, 0.2)
    reply = _answer(_task("A", _result(a, prefixed=True)), _task("B", _result(b)))
    assert reply["pairs"][0]["pairable"] and reply["pairs"][0]["n_common"] == 30


def test_several_pairs_are_holm_corrected_metric_by_metric():
    reply = _answer(*(_task(t, _result(_p(i, s))) for i, (t, s) in enumerate((("A", 2.0), ("B", 0.3), ("C", 1.0)))))
    assert reply["correction"] == "holm" and "3 pairable pairs" in reply["correction_note"]
    for metric in ("test_accuracy", "test_roc_auc"):
        rows = [r for p in reply["pairs"] for r in p["paired"] if r["metric"] == metric]
        assert [r["p_value_holm"] for r in rows] == holm([r["p_value"] for r in rows])
        assert all(r["p_value_holm"] >= r["p_value"] for r in rows)


@pytest.mark.parametrize("other, reason, words", [
    (_result(_p(2, 1.0), checksum="beef"), "different_dataset", "demo (checksum beef)"),
    (_result(_p(2, 1.0), dataset="other", checksum="beef"), "different_dataset", "on other (checksum beef)"),
    (_result(_p(2, 1.0)[:20], ids=IDS[:20]), "different_subjects", "20 in common of 30 and 20"),
    ({**_result(_p(2, 1.0)), "test": {"n": 30}}, "no_predictions", "B has no per-subject test predictions"),
    (None, "no_predictions", "B has no per-subject test predictions"),
    ({**_result(_p(2, 1.0)), "splits": {}}, "no_predictions", "recorded split does not"),
])
def test_a_pair_not_tested_on_the_same_subjects_says_why(other, reason, words):
    reply = _answer(_task("A", _result(_p(1, 2.0))), _task("B", other), _task("C", _result(_p(3, 1.0))))
    ab, ac, bc = reply["pairs"]
    assert (ab["pairable"], ab["reason"], ab["paired"], ab["n_common"]) == (False, reason, [], None)
    assert words in ab["detail"], ab["detail"]
    assert ac["pairable"] and not bc["pairable"]
    assert reply["correction"] is None  # one pairable pair: nothing to correct


def test_each_metric_keeps_its_own_interval():
    [task] = _answer(_task("A", _result(_p(1, 2.0))), _task("B", None))["tasks"][:1]
    assert task["metrics"] == {"test_accuracy": {"value": 0.7, "low": 0.5, "high": 0.85},
                               "test_n": {"value": 30, "low": None, "high": None}}
