"""Held-out lineage through the real service: a dl_ev of a task on its own dataset tests exactly
its held-out subjects, an evaluation on subjects the model saw is refused naming how many and
which task saw them, and one allowed explicitly is marked and ranks after clean results."""

from __future__ import annotations

import pytest

from tests.service.forms import DEMO, form

pytestmark = pytest.mark.slow


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
