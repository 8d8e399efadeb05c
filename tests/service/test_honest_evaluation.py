"""Honest evaluation through the real service. Held-out lineage: a dl_ev of a task on its own
dataset tests exactly its held-out subjects, an evaluation on subjects the model saw is refused
naming how many and which task saw them, and one allowed explicitly is marked and ranks after
clean results. Cross-validation: sklearn's folds, recorded, pooled; bad fields named."""

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
