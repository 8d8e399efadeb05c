"""Honest evaluation through the real service. Held-out lineage: a dl_ev of a task on its own
dataset tests exactly its held-out subjects, an evaluation on subjects the model saw is refused
naming how many and which task saw them, and one allowed explicitly is marked and ranks after
clean results. Cross-validation: sklearn's folds, recorded, pooled; bad fields named. Nested
cross-validation: refused over its cap with the count; each outer fold's choice recorded."""

from __future__ import annotations

import pytest

from tests.service.forms import DEMO, form

pytestmark = pytest.mark.slow
TWELVE = "twelve_subjects"
SMALL = {"train_data": [TWELVE], "val_data": [TWELVE], "test_data": [TWELVE]}


def _subjects(task: dict, role: str) -> set[str]:
    return {s for _, s in task["result"]["splits"]["roles"][role]["subjects"]}


def test_evaluating_on_its_own_dataset_uses_exactly_the_parents_test_subjects(stack):
    parent = stack.wait_task(stack.submit(form(epochs=1, seed=5)))
    assert parent["status"] == "SUCCEEDED", parent
    ev = stack.wait_task(stack.submit(form(task_type="dl_ev", trained_task_id=parent["task_id"])))
    assert ev["status"] == "SUCCEEDED", ev
    assert _subjects(ev, "test") == _subjects(parent, "test")
    assert ev["result"]["test_n"] == 20 and ev["test_on_seen_subjects"] is False
    assert ev["result"]["splits"]["inherited"] == {DEMO: [parent["task_id"]]}
    # Its baseline is fitted on what the evaluated task trained on: the parent's own baseline again.
    assert ev["result"]["standard_baseline"]["fitted_on"] == "the training subjects of the evaluated task"
    same = lambda record: {k: v for k, v in record["test"].items()  # noqa: E731 - each its own label and seed
                           if k not in ("evaluated", "intervals")}
    assert same(ev["result"]["standard_baseline"]) == same(parent["result"]["standard_baseline"])

    tuned = stack.wait_task(stack.submit(form(task_type="dl_ft", seed=9, trained_task_id=parent["task_id"])))
    assert tuned["status"] == "SUCCEEDED", tuned
    assert _subjects(tuned, "test") == _subjects(parent, "test")
    assert not (_subjects(tuned, "train") | _subjects(tuned, "val")) & _subjects(parent, "test")


def test_a_test_set_the_model_has_seen_is_refused_then_marked_when_allowed(stack):
    parent = stack.submit(form(epochs=1, enable_test=False, test_data=[]))
    assert stack.wait_task(parent)["status"] == "SUCCEEDED"
    ev_form = form(task_type="dl_ev", trained_task_id=parent)
    r = stack.post("/api/v0/new_task", json=ev_form)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "test_data[0]"
    assert "all 140 subjects" in error["problem"] and f"{parent} saw 140" in error["problem"]
    assert "allow_seen_test" in error["problem"]

    marked = stack.wait_task(stack.submit({**ev_form, "allow_seen_test": True}))
    assert marked["status"] == "SUCCEEDED", marked["error"]
    assert marked["test_on_seen_subjects"] is True
    assert marked["result"]["splits"]["seen_in_test"] == {"n": 140, "tasks": {parent: 140}}

    clean = stack.wait_task(stack.submit(form(epochs=1, proj_id="LINEAGE-SORT")))
    stack.wait_task(stack.submit({**ev_form, "allow_seen_test": True, "proj_id": "LINEAGE-SORT"}))
    listed = stack.get("/api/v0/tasks?proj_id=LINEAGE-SORT&sort=-test_accuracy").json()["tasks"]
    assert [t["test_on_seen_subjects"] for t in listed] == [False, True]
    assert listed[0]["task_id"] == clean["task_id"]


def test_a_cross_validated_task_records_sklearns_folds_and_pooled_metrics(stack):
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    task = stack.wait_task(stack.submit(form(epochs=1, seed=3, cv_type="Stratified_KFold", n_folds=3)))
    assert task["status"] == "SUCCEEDED", task["error"]
    assert task["progress"]["epochs"] == 3 and task["progress"]["percent"] == 100.0
    result = task["result"]
    cv = result["splits"]["cv"]
    assert cv["cv_type"] == "stratified_kfold" and len(cv["folds"]) == 3
    pool = [s for _, s in result["splits"]["roles"]["train"]["subjects"]]
    labels = [0 if s.startswith("NC") else 1 for s in pool]
    theirs = StratifiedKFold(n_splits=3, shuffle=True, random_state=3).split(np.zeros((140, 1)), labels)
    assert [sorted(f["test"]) for f in cv["folds"]] == [sorted(pool[i] for i in t) for _, t in theirs]
    assert result["test_n"] == 140 and len(result["cv"]["per_fold"]) == 3
    assert "test_accuracy" in result["cv"]["mean"] and "test_accuracy" in result["cv"]["std"]
    epochs = stack.get(f"/api/v0/tasks/{task['task_id']}/epochs").json()["epochs"]
    assert [(e["epoch"], e["fold"]) for e in epochs] == [(1, 0), (2, 1), (3, 2)]

    # Every subject was trained on in some fold: an evaluation on them is refused.
    r = stack.post("/api/v0/new_task", json=form(task_type="dl_ev", trained_task_id=task["task_id"]))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "test_data[0]"


@pytest.mark.parametrize("changes, field, words", [
    ({"cv_type": "bootstrap"}, "cv_type", "kfold"),
    ({"cv_type": "kfold", "n_folds": 1}, "n_folds", "greater than or equal to 2"),
    ({"cv_type": "stratified_kfold", "n_folds": 7, **SMALL}, "n_folds", "smallest class has 6"),
    ({"cv_type": "kfold", "task_type": "dl_ev", "trained_task_id": "TASK1"}, "cv_type", "dl_ev"),
])
def test_bad_cross_validation_fields_are_named(stack, changes, field, words):
    if changes.get("train_data") == SMALL["train_data"] and stack.get(f"/api/v0/datasets/{TWELVE}").status_code == 404:
        from models.datasets.synthetic import synthetic_aal90

        blob = synthetic_aal90(12, seed=1, n_regions=20, n_pairs=3, n_modules=3).to_npz_bytes()
        up = stack.post("/api/v0/datasets", files={"file": ("twelve.npz", blob)}, data={"name": TWELVE})
        assert up.status_code == 201, up.text
    r = stack.post("/api/v0/new_task", json=form(**changes))
    assert r.status_code == 422, r.text
    problems = {e["field"]: e["problem"] for e in r.json()["errors"]}
    assert field in problems and words in problems[field], problems


def _other_projects_viewer(stack, project: str) -> dict:
    assert stack.post("/api/v0/projects", json={"id": project, "name": project}).status_code == 201
    assert stack.post(f"/api/v0/projects/{project}/members", json={"user": f"{project}-viewer", "role": "viewer"}
                      ).status_code == 201
    r = stack.post("/api/v0/tokens", json={"user": f"{project}-viewer", "name": "theirs"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['secret']}"}


def test_a_sweep_is_chosen_on_validation_among_its_finished_tasks(stack):
    sweep = "SWEEP-selection"
    ids = [stack.submit(form(epochs=1, learning_rate=lr, sweep_id=sweep)) for lr in (0.01, 0.05, 0.1)]
    stopped = stack.submit(form(epochs=500, sweep_id=sweep))
    assert stack.post(f"/api/v0/tasks/{stopped}/stop").status_code == 200
    done = [stack.wait_task(t, timeout=300) for t in ids]
    assert [t["status"] for t in done] == ["SUCCEEDED"] * 3, [t["error"] for t in done]
    losses = {t["task_id"]: t["result"]["best_val_loss"] for t in done}
    chosen = min(losses, key=losses.get)  # the oldest of equal losses: ids are oldest first
    r = stack.get(f"/api/v0/sweeps/{sweep}")
    assert r.status_code == 200, r.text
    record = r.json()
    assert {t["task_id"]: t["score"] for t in record["tasks"]} == {**losses, stopped: None}
    selection = record["selection"]
    assert (selection["chosen_task_id"], selection["n_candidates"], selection["selected_on"]) == \
        (chosen, 3, "validation")
    result = done[ids.index(chosen)]["result"]
    assert selection["chosen_test"]["test_accuracy"] == {
        "value": result["test_accuracy"], "low": result["test_accuracy_low"], "high": result["test_accuracy_high"]}

    refused = stack.get(f"/api/v0/sweeps/{sweep}", params={"metric": "test_accuracy"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "metric", refused.text
    outsider = _other_projects_viewer(stack, "SELECTION-OTHER")
    for path, headers in ((f"/api/v0/sweeps/{sweep}", outsider), ("/api/v0/sweeps/SWEEP-made-up", {})):
        assert stack.get(path, headers=headers).status_code == 404, path
    listed = stack.get("/api/v0/tasks", params={"sweep_id": sweep, "sort": "-test_accuracy"}).json()
    assert "biased" in listed["selection_warning"]


def test_a_cross_validated_sweep_is_chosen_on_its_folds_validation(stack):
    sweep = "SWEEP-selection-cv"
    ids = [stack.submit(form(epochs=1, learning_rate=lr, cv_type="kfold", n_folds=2, sweep_id=sweep))
           for lr in (0.01, 0.1)]
    done = [stack.wait_task(t, timeout=300) for t in ids]
    assert [t["status"] for t in done] == ["SUCCEEDED"] * 2, [t["error"] for t in done]
    inner = {}
    for task in done:
        cv = task["result"]["cv"]
        inner[task["task_id"]] = cv["mean"]["best_val_loss"]
        assert inner[task["task_id"]] == pytest.approx(sum(f["best_val_loss"] for f in cv["per_fold"]) / 2)
    selection = stack.get(f"/api/v0/sweeps/{sweep}").json()["selection"]
    assert (selection["chosen_task_id"], selection["selected_on"]) == (min(inner, key=inner.get), "inner_cv")


def test_nested_cross_validation_is_capped_and_records_each_folds_choice(stack):
    nested = "nested_small"
    if stack.get(f"/api/v0/datasets/{nested}").status_code == 404:
        from models.datasets.synthetic import synthetic_aal90

        blob = synthetic_aal90(24, seed=2, n_regions=12, n_pairs=3, n_modules=3).to_npz_bytes()
        up = stack.post("/api/v0/datasets", files={"file": ("nested.npz", blob)}, data={"name": nested})
        assert up.status_code == 201, up.text
    data = {"train_data": [nested], "val_data": [nested], "test_data": [nested]}
    grid = {"learning_rate": [0.001, 0.05]}

    # 10 outer folds × (10 inner folds × 2 configurations + 1 refit) = 210 runs, over the default cap.
    over = form(epochs=1, cv_type="kfold", n_folds=10, inner_folds=10, param_grid=grid, sweep_id="NESTED-over")
    r = stack.post("/api/v0/new_task", json=over)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "param_grid" and "210 models" in error["problem"] and "cap of 200" in error["problem"]
    assert stack.get("/api/v0/tasks", params={"sweep_id": "NESTED-over"}).json()["tasks"] == []

    task = stack.wait_task(stack.submit(form(epochs=1, seed=1, batch_size=4, cv_type="stratified_kfold", n_folds=2,
                                             inner_folds=2, param_grid=grid, **data)), timeout=300)
    assert task["status"] == "SUCCEEDED", task["error"]
    result = task["result"]
    record = result["nested_cv"]
    assert (record["inner_folds"], record["grid"], record["runs"], record["selected_on"], record["metric"]) == \
        (2, grid, 2 * (2 * 2 + 1), "inner_cv", "best_val_loss")
    assert [f["fold"] for f in record["folds"]] == [0, 1]
    for fold in record["folds"]:
        scores = fold["inner_scores"]
        assert [s["params"] for s in scores] == [{"learning_rate": 0.001}, {"learning_rate": 0.05}]
        assert fold["chosen"] == min(scores, key=lambda s: s["mean"])["params"]
    assert result["test_n"] == 24 and result["test_accuracy_low"] <= result["test_accuracy"] <= \
        result["test_accuracy_high"]
    epochs = stack.get(f"/api/v0/tasks/{task['task_id']}/epochs").json()["epochs"]
    assert [(e["epoch"], e["fold"]) for e in epochs] == [(1, 0), (2, 1)]  # the outer refits


def test_every_test_result_carries_the_standard_baseline_on_its_own_subjects(stack):
    import numpy as np
    from statsmodels.stats.contingency_tables import mcnemar

    from models.datasets.synthetic import demo_aal90
    from models.tangent import fit_predict

    task = stack.wait_task(stack.submit(form(epochs=2, seed=11, proj_id="BASELINE-BESIDE")))
    assert task["status"] == "SUCCEEDED", task["error"]
    result = task["result"]
    record = result["standard_baseline"]
    assert record["model"] == "tangent-logreg" and record["fitted_on"] == "the task's training subjects"
    # Refit it here on the very subjects the task recorded: the same baseline, the same verdicts.
    data = demo_aal90()  # what the stack registered as DEMO
    where = {s: i for i, s in enumerate(data.subjects)}
    train, test = (data.subset([where[s] for _, s in result["splits"]["roles"][r]["subjects"]]) for r in ("train", "test"))
    right_baseline = fit_predict(train, test).argmax(axis=1) == test.labels
    predicted = {p["subject"]: p["label"] == p["predicted"] for p in result["test"]["predictions"]}
    right_model = np.array([predicted[s] for s in test.subjects])
    assert record["n_train"] == train.n_subjects and record["test"]["n"] == test.n_subjects
    assert result["baseline_test_accuracy"] == pytest.approx(right_baseline.mean())
    accuracy = next(p for p in record["paired"] if p["metric"] == "test_accuracy")
    assert accuracy["difference"] == pytest.approx(right_model.mean() - right_baseline.mean())
    table = [[np.sum(right_model & right_baseline), np.sum(right_model & ~right_baseline)],
             [np.sum(~right_model & right_baseline), np.sum(~right_model & ~right_baseline)]]
    assert accuracy["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)

    listed = stack.get("/api/v0/tasks", params={"proj_id": "BASELINE-BESIDE"}).json()["tasks"]
    assert listed[0]["metrics"]["baseline_test_accuracy"] == result["baseline_test_accuracy"]
    assert listed[0]["metrics"]["baseline_accuracy_difference"] == accuracy["difference"]
    skipped = stack.wait_task(stack.submit(form(epochs=1, skip_baseline=True)))
    assert skipped["result"]["standard_baseline"] == {"skipped": "skip_baseline was set on the form"}
