"""A sweep's selection record (GET /api/v0/sweeps/<id>) over rows written as workers leave them:
chosen on validation among the SUCCEEDED tasks only, the earliest created among equal scores,
cross-validated tasks on their folds' mean, the chosen test metrics once with their intervals;
a test metric refused naming ``metric``; another project's sweep answered as a made-up one; and
the listing's warning on a sweep ordered by a test metric."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from contracts import replies
from dao import task_queries
from dao.db import session_scope
from dao.tables import Task
from tests.app.inprocess import in_process_api

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
CHOSEN_TEST = {"test_accuracy": 0.7, "test_accuracy_low": 0.5, "test_accuracy_high": 0.85, "test_n": 20,
               "test_best_accuracy": 0.75, "test_best_accuracy_low": 0.55, "test_best_accuracy_high": 0.9}


def _task(sweep: str, n: int, status: str, result: dict | None, project: str = "A", cv_type: str = "") -> str:
    with session_scope() as session:
        task_id = task_queries.insert_new_task(
            session, id=f"TASK-{sweep}-{n}", proj_id=project, proj_name=project, task_name=f"{sweep} {n}",
            task_type="dl_ts", model="GNN", backend="torch", queue="q", sweep_id=sweep,
            form={"param_set": {"learning_rate": n / 100}, "cv_type": cv_type}, created_at=T0 + dt.timedelta(minutes=n))
        session.execute(update(Task).where(Task.id == task_id).values(status=status, result=result))
    return task_id


@pytest.fixture(scope="module")
def api():
    """Sweep S in project A: a STOPPED task with the lowest loss, a FAILED one, two SUCCEEDED ones
    tied at the best loss (the older one holds the chosen test metrics), a worse one, one without
    the metric. CV: two cross-validated tasks. MIXED: one of each kind. Project B: a task in S too,
    its lowest loss seen by B only."""
    with in_process_api() as api:
        for project in ("A", "B"):
            api.project(project)
        api.alice = api.member_token("A", "alice", "viewer")
        api.bob = api.member_token("B", "bob", "viewer")
        api.stopped = _task("S", 1, "STOPPED", {"best_val_loss": 0.1, "test_accuracy": 0.99})
        _task("S", 2, "FAILED", None)
        api.tied_old = _task("S", 3, "SUCCEEDED", {"best_val_loss": 0.4, "best_val_accuracy": 0.6, **CHOSEN_TEST})
        api.tied_new = _task("S", 4, "SUCCEEDED", {"best_val_loss": 0.4, "best_val_accuracy": 0.7,
                                                    "test_accuracy": 0.95})
        api.worse = _task("S", 5, "SUCCEEDED", {"best_val_loss": 0.9, "best_val_accuracy": 0.8, "test_accuracy": 0.98})
        _task("S", 6, "SUCCEEDED", {"test_accuracy": 0.97})
        api.b_task = _task("S", 7, "SUCCEEDED", {"best_val_loss": 0.2}, project="B")  # an id A uses too
        api.cv_worse = _task("CV", 8, "SUCCEEDED", {"best_val_loss": 0.1, "cv": {"mean": {"best_val_loss": 0.6}}},
                             cv_type="kfold")
        api.cv_best = _task("CV", 9, "SUCCEEDED", {"best_val_loss": 0.9, "cv": {"mean": {"best_val_loss": 0.3}}},
                            cv_type="stratified_kfold")
        _task("MIXED", 10, "SUCCEEDED", {"best_val_loss": 0.5})
        _task("MIXED", 11, "QUEUED", None, cv_type="loo")
        yield api


def _sweep(api, sweep: str, headers: dict | None = None, **kw):  # noqa: ANN001, ANN202
    """As A's viewer unless ``headers`` say otherwise."""
    return api.get(f"/api/v0/sweeps/{sweep}", headers=headers or api.alice, **kw)


def test_the_choice_is_made_on_validation_among_finished_tasks_ties_to_the_oldest(api):
    r = _sweep(api, "S")
    assert r.status_code == 200, r.text
    replies.Sweep.model_validate(r.json)
    selection = r.json["selection"]
    assert selection["chosen_task_id"] == api.tied_old  # not the STOPPED one's lower loss; the older of a tie
    assert selection["n_candidates"] == 3  # SUCCEEDED with the metric: not STOPPED, FAILED, nor one without it
    assert (selection["metric"], selection["direction"], selection["selected_on"]) == ("best_val_loss", "min",
                                                                                        "validation")
    assert selection["chosen_test"] == {"test_accuracy": {"value": 0.7, "low": 0.5, "high": 0.85},
                                        "test_n": {"value": 20, "low": None, "high": None},
                                        "test_best_accuracy": {"value": 0.75, "low": 0.55, "high": 0.9}}
    assert [t["task_id"] for t in r.json["tasks"]] == [f"TASK-S-{n}" for n in range(1, 7)]  # oldest first
    assert r.json["tasks"][2]["score"] == 0.4 and r.json["tasks"][2]["params"] == {"learning_rate": 0.03}


def test_a_score_is_maximised(api):
    selection = _sweep(api, "S", query_string={"metric": "best_val_accuracy"}).json["selection"]
    assert (selection["chosen_task_id"], selection["direction"]) == (api.worse, "max")


def test_cross_validated_tasks_are_chosen_on_their_folds_mean_validation(api):
    selection = _sweep(api, "CV").json["selection"]
    assert (selection["chosen_task_id"], selection["selected_on"]) == (api.cv_best, "inner_cv")
    assert selection["n_candidates"] == 2


def test_a_sweep_mixing_cross_validated_and_single_split_tasks_chooses_nothing(api):
    r = _sweep(api, "MIXED")
    assert r.status_code == 409 and "cross-validated" in r.json["msg"]


@pytest.mark.parametrize("metric, words", [("test_accuracy", "is a test metric"),
                                           ("-test_accuracy", "not a validation metric"),
                                           ("epochs_done", "not a validation metric")])
def test_a_metric_that_is_not_a_validation_one_is_refused_naming_it(api, metric, words):
    for sweep in ("S", "NO-SUCH-SWEEP"):  # checked before the sweep is looked up
        r = _sweep(api, sweep, query_string={"metric": metric})
        assert r.status_code == 400, r.text
        [error] = r.json["errors"]
        assert error["field"] == "metric" and words in error["problem"], error


def test_another_projects_sweep_is_answered_as_a_made_up_one(api):
    for sweep in ("CV", "NO-SUCH-SWEEP"):
        r = _sweep(api, sweep, headers=api.bob)
        assert r.status_code == 404 and r.json["msg"] == f"sweep {sweep!r} not found", r.text
    r = _sweep(api, "S", headers=api.bob)  # an id both projects use: each sees its own tasks only
    assert r.status_code == 200 and [t["task_id"] for t in r.json["tasks"]] == [api.b_task]
    assert (r.json["selection"]["chosen_task_id"], r.json["selection"]["n_candidates"]) == (api.b_task, 1)


@pytest.mark.parametrize("query, warned", [({"sweep_id": "S", "sort": "-test_accuracy"}, True),
                                           ({"sweep_id": "S", "sort": "test_best_roc_auc_low"}, True),
                                           ({"sweep_id": "S", "sort": "best_val_loss"}, False),
                                           ({"sweep_id": "S"}, False),
                                           ({"sort": "-test_accuracy"}, False)])
def test_the_listing_warns_on_a_sweep_ordered_by_a_test_metric(api, query, warned):
    r = api.get("/api/v0/tasks", query_string=query)
    assert r.status_code == 200, r.text
    replies.TaskPage.model_validate(r.json)
    warning = r.json["selection_warning"]
    assert bool(warning) == warned
    if warned:
        assert "biased" in warning and "/api/v0/sweeps/" in warning
