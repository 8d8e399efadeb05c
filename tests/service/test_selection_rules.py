"""Issue 26's rules that no other real-stack test held: a nested cross-validation's outer fold
trains the configuration its inner folds chose (seen in the epochs it reports), and a
cross-validated task's standard baseline is fitted fold by fold on the very folds the task
recorded, pooled out of fold, with its interval and the time it took said in the result; an
evaluation's baseline is fitted on exactly the training subjects the evaluated task recorded."""

from __future__ import annotations

import pytest

from tests.service.forms import form

pytestmark = pytest.mark.slow
NESTED = "nested_small"  # the same data tests/service/test_honest_evaluation.py registers
HARD = "baseline_hard"  # a weak effect: the baseline is right on about half the subjects out of fold


def _synthetic(name: str):
    from models.datasets.synthetic import synthetic_aal90

    if name == NESTED:
        return synthetic_aal90(24, seed=2, n_regions=12, n_pairs=3, n_modules=3)
    return synthetic_aal90(48, seed=7, n_regions=16, n_pairs=3, n_modules=3, effect=0.15, hub_effect=0.1)


def _registered(stack, name: str) -> list[str]:
    if stack.get(f"/api/v0/datasets/{name}").status_code == 404:
        blob = _synthetic(name).to_npz_bytes()
        up = stack.post("/api/v0/datasets", files={"file": (f"{name}.npz", blob)}, data={"name": name})
        assert up.status_code == 201, up.text
    return [name]


def test_each_outer_fold_trains_for_the_epochs_its_inner_folds_chose(stack):
    data = _registered(stack, NESTED)
    # The form's own epochs (2) are in no configuration: a refit that ignored the choice would show them.
    task = stack.wait_task(stack.submit(form(
        epochs=2, seed=4, batch_size=4, cv_type="stratified_kfold", n_folds=2, inner_folds=2,
        param_grid={"epochs": [1, 3]}, train_data=data, val_data=data, test_data=data)), timeout=300)
    assert task["status"] == "SUCCEEDED", task["error"]
    result = task["result"]
    chosen = {f["fold"]: f["chosen"]["epochs"] for f in result["nested_cv"]["folds"]}
    assert sorted(chosen) == [0, 1] and set(chosen.values()) <= {1, 3}
    assert {f["fold"]: f["epochs_done"] for f in result["cv"]["per_fold"]} == chosen
    epochs = stack.get(f"/api/v0/tasks/{task['task_id']}/epochs").json()["epochs"]
    assert {k: sum(e["fold"] == k for e in epochs) for k in chosen} == chosen


def test_a_cross_validated_tasks_baseline_is_fitted_on_each_recorded_fold(stack):
    import numpy as np
    from statsmodels.stats.contingency_tables import mcnemar

    from models.tangent import fit_predict

    names = _registered(stack, HARD)
    task = stack.wait_task(stack.submit(form(epochs=1, seed=6, batch_size=4, cv_type="stratified_kfold", n_folds=3,
                                             train_data=names, val_data=names, test_data=names)), timeout=300)
    assert task["status"] == "SUCCEEDED", task["error"]
    result = task["result"]
    record = result["standard_baseline"]
    assert "pooled out of fold" in record["fitted_on"]
    assert isinstance(record["seconds"], float) and record["seconds"] >= 0
    data = _synthetic(HARD)
    where = {s: i for i, s in enumerate(data.subjects)}
    pick = lambda names: data.subset([where[s] for s in names])  # noqa: E731
    right_baseline = {}
    for fold in result["splits"]["cv"]["folds"]:  # fitted on the fold's train part only, as the model was
        train, test = pick(fold["train"]), pick(fold["test"])
        right_baseline.update(zip(test.subjects, fit_predict(train, test).argmax(axis=1) == test.labels))
    assert record["test"]["n"] == len(right_baseline) == data.n_subjects
    assert result["baseline_test_accuracy"] == pytest.approx(np.mean(list(right_baseline.values())))
    assert result["baseline_test_accuracy"] < 0.9  # far from perfect: a fit that saw the test fold would show
    low, high = result["baseline_test_accuracy_low"], result["baseline_test_accuracy_high"]
    assert low < result["baseline_test_accuracy"] < high

    subjects = sorted(right_baseline)
    predicted = {p["subject"]: p["label"] == p["predicted"] for p in result["test"]["predictions"]}
    mine, base = np.array([predicted[s] for s in subjects]), np.array([right_baseline[s] for s in subjects])
    accuracy = next(p for p in record["paired"] if p["metric"] == "test_accuracy")
    assert accuracy["difference"] == pytest.approx(mine.mean() - base.mean())
    assert accuracy["low"] <= accuracy["difference"] <= accuracy["high"]
    table = [[np.sum(mine & base), np.sum(mine & ~base)], [np.sum(~mine & base), np.sum(~mine & ~base)]]
    assert accuracy["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)


def test_an_evaluations_baseline_is_fitted_on_exactly_the_evaluated_tasks_training_subjects(stack):
    from models.tangent import fit_predict

    names = _registered(stack, HARD)
    data = {"train_data": names, "val_data": names, "test_data": names}
    parent = stack.wait_task(stack.submit(form(epochs=1, seed=8, batch_size=4, **data)))
    assert parent["status"] == "SUCCEEDED", parent["error"]
    ev = stack.wait_task(stack.submit(form(task_type="dl_ev", trained_task_id=parent["task_id"], **data)))
    assert ev["status"] == "SUCCEEDED", ev["error"]
    record = ev["result"]["standard_baseline"]
    assert record["fitted_on"] == "the training subjects of the evaluated task"
    trained = [s for _, s in parent["result"]["splits"]["roles"]["train"]["subjects"]]
    assert record["n_train"] == len(trained) == parent["result"]["standard_baseline"]["n_train"]
    whole = _synthetic(HARD)
    where = {s: i for i, s in enumerate(whole.subjects)}
    train = whole.subset([where[s] for s in trained])
    test = whole.subset([where[s] for _, s in ev["result"]["splits"]["roles"]["test"]["subjects"]])
    right = fit_predict(train, test).argmax(axis=1) == test.labels
    assert ev["result"]["baseline_test_accuracy"] == pytest.approx(right.mean())
    assert isinstance(record["seconds"], float)
