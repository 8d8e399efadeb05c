"""Issue 27, item 3: what the fleet's views show a project-scoped caller. ``GET /api/v0/gpus``
names the task a worker runs only to a caller who may see that task's project, and ``/metrics``
shows a scoped caller only the series of its own projects (a ``project`` label, or a served
model's name) and those of no project; the service admin and the scrape network see all."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.gpus import GpuState
from dao import task_queries, worker_queries
from dao.db import session_scope
from dao.tables import ServedModel
from tests.app.inprocess import in_process_api

GIB = 1024**3
GPU = GpuState(0, "NVIDIA A100-SXM4-40GB", "GPU-probe", 40 * GIB, 2 * GIB, 38 * GIB, 7, 41)
SCRAPER = {"REMOTE_ADDR": "10.77.0.5"}
OUTSIDE = {"REMOTE_ADDR": "10.99.0.5"}


@pytest.fixture(scope="module")
def api():
    """Projects A (carol views) and B (bob edits); a GPU worker runs B's task, another A's;
    each project has a task and a served model; the fleet's figures are on /metrics."""
    env = {"TRAINYARD_METRICS_FLEET": "1", "TRAINYARD_METRICS_OPEN_NETWORKS": "10.77.0.0/16"}
    with in_process_api(env) as api:
        for project in ("A", "B"):
            api.project(project)
        api.carol = api.member_token("A", "carol", "viewer")
        api.bob = api.member_token("B", "bob", "editor")
        api.task_a, api.task_b = _task("A"), _task("B")
        with session_scope() as session:
            for name, task in (("gpu-a", api.task_a), ("gpu-b", api.task_b)):
                worker_queries.register_worker(session, name, host="gpu-box", backend="torch", queues=["torch"],
                                               gpus=[dataclasses.asdict(GPU)])
                worker_queries.occupy_worker(session, name, task)
            for name, project in (("model-of-a", "A"), ("model-of-b", "B"), ("shared-model", None)):
                session.add(ServedModel(name=name, version="1", source_kind="upload", status="READY",
                                        project_id=project))
        from serving import metrics as serving_metrics  # the embedded default's /metrics shows these

        for name in ("model-of-a", "model-of-b", "shared-model"):
            serving_metrics.REQUESTS.labels(name, "1", "kserve").inc()
        yield api


def _task(project: str) -> str:
    with session_scope() as session:
        return task_queries.insert_new_task(
            session, proj_id=project, proj_name=project, task_name="running", task_type="dl_ts", model="GNN",
            backend="torch", queue="torch", form={"train_data": [], "val_data": [], "test_data": []},
            epochs_total=2, epochs_done=0, status="RUNNING")


def _running(body: dict) -> dict[str, str | None]:
    workers = {w["worker"]: w["current_task_id"] for w in body["workers"] if w["worker"].startswith("gpu-")}
    for gpu in body["gpus"]:
        if gpu["worker"] in workers:
            assert gpu["task_id"] == workers[gpu["worker"]], body
    return workers


def test_a_member_sees_only_the_task_ids_of_its_projects(api):
    r = api.get("/api/v0/gpus", headers=api.carol)
    assert r.status_code == 200, r.text
    assert _running(r.json) == {"gpu-a": api.task_a, "gpu-b": None}
    assert api.task_b not in r.text
    assert _running(api.get("/api/v0/gpus", headers=api.bob).json) == {"gpu-a": None, "gpu-b": api.task_b}


def test_the_service_admin_sees_every_task_id(api):
    assert _running(api.get("/api/v0/gpus").json) == {"gpu-a": api.task_a, "gpu-b": api.task_b}


def test_mxserver_gpu_names_no_task(api):
    r = api.get("/gpu", headers=api.carol)
    assert r.status_code == 200, r.text
    assert api.task_a not in r.text and api.task_b not in r.text and "task" not in r.text


def _series(api, headers: dict | None = None, environ: dict | None = None) -> list:
    r = api.get("/metrics", headers=headers, environ_base=environ or OUTSIDE)
    assert r.status_code == 200, r.text
    return [s for family in text_string_to_metric_families(r.text) for s in family.samples]


def _projects(samples: list) -> set[str]:
    return {s.labels["project"] for s in samples if s.name == "trainyard_tasks"}


def _models(samples: list) -> set[str]:
    return {s.labels["model"] for s in samples if s.name == "trainyard_serving_requests_total"}


def test_metrics_show_a_member_only_its_projects_series(api):
    samples = _series(api, api.carol)
    assert _projects(samples) == {"A"}
    assert _models(samples) == {"model-of-a", "shared-model"}
    names = {s.name for s in samples}  # series of no project are all there
    assert {"trainyard_queue_depth", "trainyard_workers_live", "trainyard_http_requests_total"} <= names
    assert _projects(_series(api, api.bob)) == {"B"}


def test_a_project_scoped_admin_token_sees_only_its_projects(api):
    r = api.post("/api/v0/tokens", json={"name": "A only", "projects": ["A"]})  # the service admin's own
    assert r.status_code == 201, r.text
    samples = _series(api, {"Authorization": f"Bearer {r.json['secret']}"})
    assert _projects(samples) == {"A"}
    assert _models(samples) == {"model-of-a", "shared-model"}


def test_the_service_admin_and_the_scrape_network_see_every_series(api):
    for samples in (_series(api), _series(api, {"Authorization": ""}, SCRAPER)):
        assert _projects(samples) == {"A", "B"}
        assert _models(samples) == {"model-of-a", "model-of-b", "shared-model"}
