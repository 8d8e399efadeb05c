"""A project's storage quota (issue 12) on a real stack: ``max_storage_mb`` set and cleared by
the service admin; a dataset or ONNX upload that would pass it is 413 naming the quota and
stores nothing; within it (or with it cleared) the upload goes through. Its tasks' artifacts
(weights, checkpoints) count too (issue 29)."""

from __future__ import annotations

import math

import pytest

from tests.service.forms import form, small_npz
from tests.service.stack import running_stack
from tests.serving.onnx_builders import linear_model

pytestmark = pytest.mark.slow
BIG = {"n": 40, "r": 80}  # about 1.0 MB uploaded, 0.77 MB stored (the canonical .npz)


@pytest.fixture(scope="module")
def quota():
    """API only, no worker: image uploads stay VALIDATING. Project Q starts without a quota."""
    with running_stack(workers=0, reaper=False) as s:
        assert s.post("/api/v0/projects", json={"id": "Q", "name": "quota"}).status_code == 201
        yield s


def _upload(s, name: str, **npz):
    return s.post("/api/v0/datasets", files={"file": (f"{name}.npz", small_npz(**npz))},
                  data={"name": name, "proj_id": "Q"})


def _listed(s) -> set[str]:
    return {d["name"] for d in s.get("/api/v0/datasets").json()["datasets"]}


def _set(s, value) -> dict:
    r = s.patch("/api/v0/projects/Q", json={"max_storage_mb": value})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("value", [-1, "5", 1.5, True, 10**9])
def test_a_bad_quota_is_422_naming_the_field(quota, value):
    r = quota.patch("/api/v0/projects/Q", json={"max_storage_mb": value})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["max_storage_mb"], r.text
    assert quota.get("/api/v0/projects/Q").json()["max_storage_mb"] is None


def test_only_the_service_admin_sets_it(quota):
    quota.post("/api/v0/projects/Q/members", json={"user": "qadmin", "role": "admin"})
    secret = quota.post("/api/v0/tokens", json={"user": "qadmin", "name": "q"}).json()["secret"]
    r = quota.patch("/api/v0/projects/Q", json={"max_storage_mb": 100}, headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 403, r.text


def test_a_dataset_over_the_quota_is_413_and_stored_nowhere(quota):
    view = _set(quota, 1)
    assert view["max_storage_mb"] == 1 and view["usage"]["storage_bytes"] == 0
    r = _upload(quota, "q-small")
    assert r.status_code == 201, r.text
    stored = quota.get("/api/v0/projects/Q").json()["usage"]["storage_bytes"]
    assert stored == r.json()["dataset"]["size"] > 0
    assert _upload(quota, "q-big-1", **BIG).status_code == 201  # small + 0.77 MB: within 1 MiB
    used = quota.get("/api/v0/projects/Q").json()["usage"]["storage_bytes"]

    r = _upload(quota, "q-big-2", **BIG)
    assert r.status_code == 413, r.text
    msg = r.json()["msg"]
    assert "max_storage_mb=1" in msg and "'Q'" in msg and f"stores {used} bytes" in msg, msg
    assert "q-big-2" not in _listed(quota)
    assert quota.get("/api/v0/datasets/q-big-2").status_code == 404
    assert quota.get("/api/v0/projects/Q").json()["usage"]["storage_bytes"] == used

    r = quota.post("/api/v0/datasets", files={"file": ("q-img.npz", small_npz(**BIG))},
                   data={"name": "q-img", "proj_id": "Q", "kind": "image"})
    assert r.status_code == 413 and "max_storage_mb" in r.json()["msg"], r.text
    assert "q-img" not in _listed(quota)

    assert _set(quota, None)["max_storage_mb"] is None
    assert _upload(quota, "q-big-2", **BIG).status_code == 201, "a cleared quota lets it through"
    r = quota.post("/api/v0/datasets", files={"file": ("q-img.npz", small_npz())},
                   data={"name": "q-img", "proj_id": "Q", "kind": "image"})
    assert r.status_code == 202, r.text


def test_a_model_over_the_quota_is_413_and_not_registered(quota):
    _set(quota, 0)  # Q already stores datasets: any more is over
    r = quota.put("/api/v1/models/q-model", files={"path": ("m.onnx", linear_model())}, data={"proj_id": "Q"})
    assert r.status_code == 413, r.text
    assert "max_storage_mb=0" in r.json()["http_status"]["description"], r.text
    assert "q-model" not in quota.get("/api/v1/models").json()["model_list"]
    _set(quota, None)
    r = quota.put("/api/v1/models/q-model", files={"path": ("m.onnx", linear_model())}, data={"proj_id": "Q"})
    assert r.status_code == 201, r.text
    view = quota.get("/api/v0/projects/Q").json()
    datasets = sum(d["size"] for d in quota.get("/api/v0/datasets").json()["datasets"] if d["proj_id"] == "Q")
    assert view["usage"]["storage_bytes"] == datasets + len(linear_model())


def _usage(s) -> int:
    return s.get("/api/v0/projects/Q").json()["usage"]["storage_bytes"]


def test_a_tasks_artifacts_count_and_refuse_uploads(quota):
    from dao import artifact_queries
    from dao.db import session_scope

    _set(quota, None)
    before = _usage(quota)
    task_id = quota.submit(form(proj_id="Q"))
    assert quota.post(f"/api/v0/tasks/{task_id}/stop").status_code == 200  # no worker: it never runs
    with session_scope() as session:  # as a worker stores them, into the stack's store
        artifact_queries.save_artifact(session, task_id, artifact_queries.WEIGHTS, b"w" * (2 << 20))
        artifact_queries.save_artifact(session, task_id, artifact_queries.epoch_checkpoint_kind(1), b"c" * 1000)
    assert _usage(quota) == before + (2 << 20) + 1000

    # room for the upload (a few kB) were the artifacts not counted, none as they are
    _set(quota, math.ceil((before + (1 << 20)) / (1 << 20)))
    r = _upload(quota, "q-after-task")
    assert r.status_code == 413, r.text
    assert f"stores {before + (2 << 20) + 1000} bytes" in r.json()["msg"], r.text
    assert "q-after-task" not in _listed(quota)
    _set(quota, None)
