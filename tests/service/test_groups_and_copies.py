"""Groups and copies of subjects through the real service: a grouped dataset is split by whole
groups (each role's groups recorded) unless the form says split_by "subjects" (then marked
groups_mixed); a fine-tune whose parent trained on every group refuses to test on them; and a
test set holding copies of trained subjects, exact or near, under other ids and another dataset
name, is refused naming both datasets and how many, unless allow_seen_test (then marked)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import psycopg
import pytest

from models.datasets.synthetic import synthetic_aal90
from tests.service.forms import form

pytestmark = pytest.mark.slow
SITES = 8


def _upload(stack, name: str, ds) -> dict:
    r = stack.post("/api/v0/datasets", files={"file": (f"{name}.npz", ds.to_npz_bytes())}, data={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["dataset"]


def _cohort(seed: int = 2, n: int = 40):
    return synthetic_aal90(n, seed=seed, n_regions=12, n_pairs=3, n_modules=3)


def _grouped(stack, name: str, n_groups: int = SITES) -> dict:
    ds = _cohort()
    return _upload(stack, name, replace(ds, groups=tuple(f"site{i % n_groups}" for i in range(ds.n_subjects))))


def _on(name: str, **changes) -> dict:
    return form(epochs=1, train_data=[name], val_data=[name], test_data=[name], **changes)


def _groups(task: dict, role: str) -> set[str]:
    return {g for _, g in task["result"]["splits"]["roles"][role]["groups"]}


def _refused(stack, body: dict) -> dict[str, str]:
    r = stack.post("/api/v0/new_task", json=body)
    assert r.status_code == 422, r.text
    return {e["field"]: e["problem"] for e in r.json()["errors"]}


def test_a_grouped_dataset_is_split_by_groups_unless_the_form_says_subjects(stack):
    meta = _grouped(stack, "sites")
    assert meta["n_groups"] == SITES and meta["group_counts"]["site0"] == 5
    task = stack.wait_task(stack.submit(_on("sites", seed=1)))
    assert task["status"] == "SUCCEEDED", task["error"]
    sides = [_groups(task, r) for r in ("train", "val", "test")]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2]), sides
    assert set().union(*sides) == {f"site{i}" for i in range(SITES)} and min(map(len, sides)) >= 2
    assert task["result"]["splits"]["split_by"] == "groups" and task["result"]["groups_mixed"] is False

    mixed = stack.wait_task(stack.submit(_on("sites", seed=1, split_by="subjects")))
    assert mixed["status"] == "SUCCEEDED", mixed["error"]
    assert mixed["result"]["groups_mixed"] is True and _groups(mixed, "train") & _groups(mixed, "test")

    few = _grouped(stack, "five-sites", 5)["name"]
    problems = _refused(stack, _on(few))
    assert "cannot be split by groups among train, val, test" in problems["train_data[0]"]
    assert "it has 5 groups" in problems["train_data[0]"] and "split_by" in problems["train_data[0]"]
    assert "no groups to split by" in _refused(stack, form(split_by="groups"))["split_by"]
    assert "loo" in _refused(stack, _on("sites", cv_type="loo"))["cv_type"]


def test_a_fine_tune_whose_parent_trained_on_every_group_refuses_to_test_on_them(stack):
    _grouped(stack, "sites-ft")
    parent = stack.wait_task(stack.submit(_on("sites-ft", split_by="subjects")))
    assert parent["status"] == "SUCCEEDED", parent["error"]
    tune = _on("sites-ft", task_type="dl_ft", trained_task_id=parent["task_id"])
    problem = _refused(stack, tune)["test_data[0]"]
    assert "every group of dataset 'sites-ft'" in problem and "'site0'" in problem and "'site7'" in problem
    assert f"{parent['task_id']} on {SITES}" in problem and "allow_seen_test" in problem

    clean = stack.wait_task(stack.submit(_on("sites-ft", seed=3)))  # split by groups: its test sites are unseen
    tuned = stack.wait_task(stack.submit(_on("sites-ft", task_type="dl_ft", trained_task_id=clean["task_id"])))
    assert tuned["status"] == "SUCCEEDED", tuned["error"]
    assert _groups(tuned, "test") == _groups(clean, "test")


def test_copies_of_trained_subjects_are_refused_whatever_their_ids_and_dataset(stack):
    ds = _cohort(seed=5, n=24)
    _upload(stack, "originals", ds)
    renamed = replace(ds, subjects=tuple(f"other-{i}" for i in range(ds.n_subjects)))
    _upload(stack, "copies", renamed)
    noise = np.random.default_rng(1).normal(0, 1e-4, ds.conn.shape).astype(np.float32)
    _upload(stack, "near-copies", replace(renamed, conn=ds.conn + (noise + noise.transpose(0, 2, 1)) / 2))
    with psycopg.connect(stack.env["TRAINYARD_DATABASE_URL"].replace("postgresql+psycopg", "postgresql")) as db:
        stored = db.execute("SELECT name FROM datasets WHERE subject_prints IS NOT NULL").fetchall()
        assert {"originals", "copies", "near-copies"} <= {n for (n,) in stored}
        # as if uploaded before fingerprints were stored: the API fingerprints its arrays
        db.execute("UPDATE datasets SET subject_prints = NULL WHERE name = 'copies'")
    parent = stack.wait_task(stack.submit(form(epochs=1, train_data=["originals"], val_data=["originals"],
                                               enable_test=False, test_data=[])))
    assert parent["status"] == "SUCCEEDED", parent["error"]

    for name in ("copies", "near-copies"):
        ev = form(task_type="dl_ev", trained_task_id=parent["task_id"], test_data=[name])
        problem = _refused(stack, ev)["test_data[0]"]
        assert f"24 of the 24 subjects of dataset '{name}'" in problem
        assert f"24 copy subjects of dataset 'originals' that task {parent['task_id']}" in problem
    same_form = _refused(stack, form(train_data=["originals"], val_data=["originals"], test_data=["copies"]))
    assert "dataset 'originals' that this task trained" in same_form["test_data[0]"]

    ev = form(task_type="dl_ev", trained_task_id=parent["task_id"], test_data=["near-copies"], allow_seen_test=True)
    marked = stack.wait_task(stack.submit(ev))
    assert marked["status"] == "SUCCEEDED", marked["error"]
    assert marked["test_on_seen_subjects"] is True
    assert marked["result"]["splits"]["seen_in_test"]["copies"] == {"n": 24, "datasets": {"originals": 24}}
