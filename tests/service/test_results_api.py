"""What README promises about a task's results, through a real stack: the model download
contract, the confusion picture, the ETA while running, the optional form fields reaching the
engine, and the listing's filters and every sortable metric."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import time

import pytest

from tests.service.forms import form

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(stack):
    """A finished 4-epoch SGN task with test metrics whose lowest validation loss is not at its
    last epoch (so the best-weights check can tell the two apart): the first seed that gives one."""
    for seed in range(1, 9):
        done = stack.wait_task(stack.submit(form(epochs=4, seed=seed)))
        assert done["status"] == "SUCCEEDED", done
        if done["result"]["best_epoch"] < 4:
            break
    return done


def test_model_download_checksum_matches_the_bytes_and_model_info(stack, trained):
    from models.weights import read_weights_meta

    task_id = trained["task_id"]
    r = stack.get(f"/api/v0/tasks/{task_id}/model")
    assert r.status_code == 200
    info = stack.get(f"/api/v0/tasks/{task_id}/model/info").json()
    assert r.headers["X-Content-SHA256"] == hashlib.sha256(r.content).hexdigest() == info["sha256"]
    assert info["size"] == len(r.content)
    assert f'filename="{task_id}-weights.safetensors"' in r.headers["Content-Disposition"]
    assert read_weights_meta(r.content)["epochs_done"] == 4


def test_best_weights_are_those_of_the_lowest_validation_loss(stack, trained):
    from models.weights import read_weights_meta

    task_id = trained["task_id"]
    r = stack.get(f"/api/v0/tasks/{task_id}/model", params={"kind": "best_weights"})
    assert r.status_code == 200
    assert r.headers["X-Content-SHA256"] == hashlib.sha256(r.content).hexdigest()
    assert f'filename="{task_id}-best_weights.safetensors"' in r.headers["Content-Disposition"]
    val_losses = [e["val_loss"] for e in stack.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"]]
    best_epoch = val_losses.index(min(val_losses)) + 1
    assert best_epoch < 4, "this check needs a run whose best epoch is not its last: change the seed"
    assert read_weights_meta(r.content)["epochs_done"] == best_epoch == trained["result"]["best_epoch"]
    bad = stack.get(f"/api/v0/tasks/{task_id}/model", params={"kind": "everything"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "kind"


def test_confusion_picture_is_a_png_and_unknown_pictures_404(stack, trained):
    task_id = trained["task_id"]
    r = stack.get(f"/api/v0/tasks/{task_id}/plots/confusion.png")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert stack.get(f"/api/v0/tasks/{task_id}/plots/nothing.png").status_code == 404


def test_eta_while_running_and_none_otherwise(stack):
    task_id = stack.submit(form(epochs=400, batch_size=1))
    running = stack.wait_task(task_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 2)
    progress = running["progress"]
    seconds = [e["seconds"] for e in stack.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"]]
    remaining = progress["epochs"] - progress["epoch"]
    # The remaining epochs times an epoch's wall time (not one epoch's seconds, not minutes): an
    # epoch takes at least its training time, and no longer than the whole run so far.
    running_for = time.time() - dt.datetime.fromisoformat(running["started_at"]).timestamp()
    low, high = remaining * min(seconds) / 1.5, remaining * running_for
    assert progress["eta_seconds"] is not None and low <= progress["eta_seconds"] <= high, (progress, seconds)
    stack.post(f"/api/v0/tasks/{task_id}/stop")
    assert stack.wait_task(task_id)["progress"]["eta_seconds"] is None


def test_optional_form_fields_reach_the_training(stack):
    options = dict(optimizer="sgd", weight_decay=0.01, edge_keep_percent=30, seed=7)
    task_id = stack.submit(form(epochs=1, enable_test=False, **options))
    done = stack.wait_task(task_id)
    assert done["status"] == "SUCCEEDED", done
    used = done["result"]["params"]
    assert {k: used[k] for k in options} == options
    assert done["result"]["graph"]["edge_keep_percent"] == 30


# --- listing ---------------------------------------------------------------------------------

PROJ = "PROJ-listing"
# (status, model, task_type) of the rows the filter test inserts
ROWS = [("SUCCEEDED", "SGN", "dl_ts"), ("FAILED", "GIN", "dl_ts"), ("SUCCEEDED", "GIN", "dl_ft"),
        ("STOPPED", "MLP", "dl_ev"), ("SUCCEEDED", "SGN", "dl_ev")]


def insert_rows(proj: str, specs: list[tuple[str, str, str, dict | None]]) -> list[str]:
    """Task rows as workers leave them (status, model, type, result), one second apart."""
    from dao import task_queries
    from dao.db import session_scope

    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ids = []
    with session_scope() as s:
        for i, (status, model, task_type, result) in enumerate(specs):
            ids.append(task_queries.insert_new_task(
                s, proj_id=proj, proj_name="p", task_name=f"row{i}", task_type=task_type, model=model,
                backend="torch", queue="nowhere", form=form(), status=status, attempt=1, result=result,
                created_at=base + dt.timedelta(seconds=i), updated_at=base))
    return ids


def listed(stack, **params) -> list[str]:
    r = stack.get("/api/v0/tasks", params=params)
    assert r.status_code == 200, r.text
    return [t["task_id"] for t in r.json()["tasks"]]


def test_listing_filters_by_status_model_and_task_type(stack):
    ids = insert_rows(PROJ, [(*spec, None) for spec in ROWS])

    def where(pred) -> list[str]:  # newest first, like the listing
        return [i for i, spec in reversed(list(zip(ids, ROWS))) if pred(*spec)]

    assert listed(stack, proj_id=PROJ) == where(lambda *_: True)
    assert listed(stack, proj_id=PROJ, status="SUCCEEDED") == where(lambda s, m, t: s == "SUCCEEDED")
    assert listed(stack, proj_id=PROJ, model="GIN") == where(lambda s, m, t: m == "GIN")
    assert listed(stack, proj_id=PROJ, task_type="dl_ev") == where(lambda s, m, t: t == "dl_ev")
    assert listed(stack, proj_id=PROJ, status="SUCCEEDED", model="SGN", task_type="dl_ev") == [ids[4]]
    assert listed(stack, proj_id=PROJ, status="QUEUED") == []


def test_listing_sorts_by_every_metric_both_ways(stack):
    from contracts.task_result import METRIC_FIELDS

    metrics = sorted(METRIC_FIELDS)
    n = 4
    # For each metric its own order of the rows, never the creation order or its reverse, so a
    # sort that ignored the key (or used another metric's) would put them differently.
    orders = [p for p in itertools.permutations(range(n)) if p not in (tuple(range(n)), tuple(reversed(range(n))))]
    rank = {m: orders[(5 * k) % len(orders)] for k, m in enumerate(metrics)}
    results = [{m: (rank[m][i] + 1 if m in ("best_epoch", "epochs_done", "test_n", "test_best_n") else rank[m][i] / 10 + 0.05)
                for m in metrics} for i in range(n)]
    ids = insert_rows("PROJ-sorting", [("SUCCEEDED", "SGN", "dl_ts", r) for r in results]
                      + [("FAILED", "SGN", "dl_ts", None)])  # no metrics: last either way
    for m in metrics:
        ascending = [ids[i] for i in sorted(range(n), key=lambda i: rank[m][i])]
        assert listed(stack, proj_id="PROJ-sorting", sort=m) == ascending + [ids[n]], m
        assert listed(stack, proj_id="PROJ-sorting", sort=f"-{m}") == ascending[::-1] + [ids[n]], m


# --- paired comparison -----------------------------------------------------------------------

PAIRED = "PROJ-paired"


@pytest.fixture(scope="module")
def paired_tasks(stack):
    """Two one-epoch tasks on the same split (seed 0), one on another split (seed 4)."""
    ids = [stack.submit(form(epochs=1, proj_id=PAIRED, **changes))
           for changes in ({"learning_rate": 0.05}, {"learning_rate": 0.01}, {"seed": 4})]
    tasks = [stack.wait_task(t, timeout=300) for t in ids]
    assert [t["status"] for t in tasks] == ["SUCCEEDED"] * 3, tasks
    return tasks


def _mcnemar_of_views(a: dict, b: dict) -> float:
    """The accuracy test redone from the two tasks' own views: statsmodels on their subjects."""
    from statsmodels.stats.contingency_tables import mcnemar

    ra, rb = ({p["subject"]: p["label"] == p["predicted"] for p in t["result"]["test"]["predictions"]} for t in (a, b))
    assert ra.keys() == rb.keys()
    count = lambda x, y: sum(ra[s] is x and rb[s] is y for s in ra)  # noqa: E731
    return mcnemar([[count(True, True), count(True, False)], [count(False, True), count(False, False)]],
                   exact=True).pvalue


def test_compare_pairs_the_tasks_tested_on_the_same_subjects(stack, paired_tasks):
    a, b, c = paired_tasks
    r = stack.get("/api/v0/compare", params={"ids": ",".join(t["task_id"] for t in paired_tasks)})
    assert r.status_code == 200, r.text
    reply = r.json()
    ab, ac, bc = reply["pairs"]
    assert (ab["a"], ab["b"], ab["pairable"], ab["n_common"]) == (a["task_id"], b["task_id"], True, 20)
    rows = {t["metric"]: t for t in ab["paired"]}
    assert set(rows) == {"test_accuracy", "test_balanced_accuracy", "test_roc_auc"}
    acc = rows["test_accuracy"]
    assert acc["difference"] == pytest.approx(a["metrics"]["test_accuracy"] - b["metrics"]["test_accuracy"])
    assert acc["p_value"] == pytest.approx(_mcnemar_of_views(a, b)) and acc["method"] == "McNemar's exact test"
    auc = rows["test_roc_auc"]
    assert auc["difference"] == pytest.approx(a["metrics"]["test_roc_auc"] - b["metrics"]["test_roc_auc"], abs=1e-4)
    assert auc["resamples"] > 1900 and auc["low"] <= auc["high"] and auc["method"] == "paired bootstrap over subjects"
    for pair in (ac, bc):  # another seed: other test subjects of the same dataset
        assert (pair["pairable"], pair["reason"], pair["paired"]) == (False, "different_subjects", [])
        assert "of 20 and 20" in pair["detail"], pair["detail"]
    assert reply["correction"] is None and acc["p_value_holm"] is None  # one pairable pair
    shown = reply["tasks"][0]["metrics"]["test_accuracy"]
    assert [shown[k] for k in ("value", "low", "high")] == \
        [a["metrics"][f"test_accuracy{s}"] for s in ("", "_low", "_high")]


def test_compare_reads_a_hidden_task_as_not_found_and_names_bad_ids(stack, paired_tasks):
    a, b = paired_tasks[0]["task_id"], paired_tasks[1]["task_id"]
    [foreign] = insert_rows("PROJ-paired-elsewhere", [("SUCCEEDED", "SGN", "dl_ts", None)])
    r = stack.post(f"/api/v0/projects/{PAIRED}/members", json={"user": "paired-viewer", "role": "viewer"})
    assert r.status_code == 201, r.text
    secret = stack.post("/api/v0/tokens", json={"user": "paired-viewer"}).json()["secret"]
    viewer = {"Authorization": f"Bearer {secret}"}
    assert stack.get("/api/v0/compare", params={"ids": f"{a},{b}"}, headers=viewer).status_code == 200
    hidden = stack.get("/api/v0/compare", params={"ids": f"{a},{foreign}"}, headers=viewer)
    made_up = stack.get("/api/v0/compare", params={"ids": f"{a},TASK-MADE-UP"}, headers=viewer)
    assert hidden.status_code == made_up.status_code == 404
    assert hidden.json()["msg"].replace(foreign, "?") == made_up.json()["msg"].replace("TASK-MADE-UP", "?")
    seen = stack.get("/api/v0/compare", params={"ids": f"{a},{foreign}"})  # the service admin sees it
    assert seen.status_code == 200 and seen.json()["pairs"][0]["reason"] == "no_predictions"
    for ids, words in ((a, "at least two"), ("", "at least two"), (f"{a},{a}", "twice"),
                       (",".join(f"TASK{i}" for i in range(21)), "at most 20")):
        r = stack.get("/api/v0/compare", params={"ids": ids})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "ids" and words in r.json()["msg"], r.text
