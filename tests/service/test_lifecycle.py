"""A task's life through real processes: submit, run, fine-tune, evaluate, stop, download."""

from __future__ import annotations

import pytest

from tests.service.forms import SEED_FORM, form

pytestmark = pytest.mark.slow


def test_seed_form_as_written_names_the_missing_parent(stack):
    r = stack.post("/api/v0/new_task", json=SEED_FORM)
    assert r.status_code == 422
    body = r.json()
    assert body["error_num"] != 0
    assert [e["field"] for e in body["errors"]] == ["param_set.trained_task_id"]
    assert "TASK20012912454500" in body["errors"][0]["problem"]


def test_train_then_fine_tune_then_evaluate(stack):
    parent = stack.submit(form(epochs=3))
    done = stack.wait_task(parent)
    assert done["status"] == "SUCCEEDED", done
    epochs = stack.get(f"/api/v0/tasks/{parent}/epochs").json()["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_accuracy", "learning_rate", "seconds"} <= set(epochs[0])
    assert done["progress"]["percent"] == 100.0
    # The test metrics are measured on the test split, which training never saw.
    roles = {role: {tuple(s) for s in r["subjects"]} for role, r in done["result"]["splits"]["roles"].items()}
    assert done["result"]["test"]["n"] == len(roles["test"]) > 0
    assert not roles["test"] & (roles["train"] | roles["val"])

    child = stack.submit(form(task_type="dl_ft", epochs=2, trained_task_id=parent))
    tuned = stack.wait_task(child)
    assert tuned["status"] == "SUCCEEDED", tuned
    assert tuned["parent_task_id"] == parent

    ev = stack.submit(form(task_type="dl_ev", trained_task_id=parent))
    evaluated = stack.wait_task(ev)
    assert evaluated["status"] == "SUCCEEDED", evaluated
    assert "test_roc_auc" in evaluated["result"]
    assert stack.get(f"/api/v0/tasks/{ev}/epochs").json()["epochs"] == []

    model = stack.get(f"/api/v0/tasks/{parent}/model")
    assert model.status_code == 200 and len(model.content) > 100
    info = stack.get(f"/api/v0/tasks/{parent}/model/info").json()
    assert info["contract"]["regions"] == 90
    from models.engine import load_network

    assert load_network(model.content).contract()["regions"] == 90
    curves = stack.get(f"/api/v0/tasks/{parent}/plots/curves.png")
    assert curves.status_code == 200 and curves.content[:4] == b"\x89PNG"


def test_fine_tune_refuses_a_parent_of_another_architecture(stack):
    parent = stack.submit(form(epochs=1, model="MLP"))
    assert stack.wait_task(parent)["status"] == "SUCCEEDED"
    r = stack.post("/api/v0/new_task", json=form(task_type="dl_ft", trained_task_id=parent))
    assert r.status_code == 422
    problem = r.json()["errors"][0]
    assert problem["field"] == "param_set.trained_task_id"
    assert "MLP" in problem["problem"] and "SGN" in problem["problem"]


def test_stop_a_queued_task_at_once(stack):
    # Occupy the single worker so the second task stays queued.
    busy = stack.submit(form(epochs=400, batch_size=1))
    stack.wait_task(busy, statuses={"RUNNING"})
    queued = stack.submit(form(epochs=1))
    assert stack.task(queued)["queue_position"] == 1
    r = stack.post(f"/api/v0/tasks/{queued}/stop")
    assert r.status_code == 200 and r.json()["status"] == "STOPPED"
    again = stack.post(f"/api/v0/tasks/{queued}/stop")
    assert again.status_code == 409 and "STOPPED" in again.json()["msg"]
    stack.post(f"/api/v0/tasks/{busy}/stop")
    assert stack.wait_task(busy)["status"] == "STOPPED"
    assert stack.task(queued)["worker"] is None


def test_stop_a_running_task_goes_stopping_then_stopped_and_keeps_its_checkpoint(stack):
    """The state machine only; how long a stop takes is measured by bench/bench_stop.py."""
    task_id = stack.submit(form(epochs=400, batch_size=1))
    stack.wait_task(task_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 1)
    r = stack.post(f"/api/v0/tasks/{task_id}/stop")
    assert r.status_code == 200 and r.json()["status"] == "STOPPING"
    assert stack.task(task_id)["status"] in ("STOPPING", "STOPPED")
    stopped = stack.wait_task(task_id)
    assert stopped["status"] == "STOPPED" and stopped["result"]["stopped"] is True
    done = stopped["progress"]["epoch"]
    assert 1 <= done < 400 and stopped["result"]["epochs_done"] == done
    assert [e["epoch"] for e in stack.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"]] == list(range(1, done + 1))
    # The last checkpoint's weights are kept.
    from models.weights import read_weights_meta

    model = stack.get(f"/api/v0/tasks/{task_id}/model")
    assert model.status_code == 200 and read_weights_meta(model.content)["epochs_done"] == done


def test_unknown_task_is_json_404(stack):
    for path in ("/api/v0/tasks/NOPE", "/api/v0/tasks/NOPE/epochs"):
        r = stack.get(path)
        assert r.status_code == 404 and r.json()["error_num"] == 404
    r = stack.post("/api/v0/tasks/NOPE/stop")
    assert r.status_code == 404


def test_listing_pages_real_tasks(stack):
    """Paging over tasks that ran; every sortable metric is checked on rows whose values do
    not tie in test_results_api.py."""
    ids = [stack.submit(form(epochs=1, seed=s, proj_id="PROJ-sort")) for s in range(3)]
    for task_id in ids:
        assert stack.wait_task(task_id)["status"] == "SUCCEEDED"
    rows = stack.get("/api/v0/tasks", params={"proj_id": "PROJ-sort", "sort": "-test_accuracy"}).json()["tasks"]
    assert {r["task_id"] for r in rows} == set(ids)
    assert [r["param_set"]["seed"] for r in sorted(rows, key=lambda r: ids.index(r["task_id"]))] == [0, 1, 2]
    first = stack.get("/api/v0/tasks", params={"proj_id": "PROJ-sort", "limit": 2}).json()
    second = stack.get("/api/v0/tasks", params={"proj_id": "PROJ-sort", "limit": 2,
                                               "cursor": first["next_cursor"]}).json()
    seen = [r["task_id"] for r in first["tasks"] + second["tasks"]]
    assert seen == list(reversed(ids)) and second["next_cursor"] is None
    bad = stack.get("/api/v0/tasks", params={"cursor": "garbage!!"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "cursor"


def test_health_endpoints(stack):
    assert stack.get("/ping").json() == {"health": "healthy!"}
    r = stack.get("/healthz")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "broker": "ok"}
    models = stack.get("/api/v0/models").json()["models"]
    assert {"SGN", "SGN-TopK", "GCN", "GIN", "GAT", "MLP"} <= {m["name"] for m in models}
