"""The embedded default (SQLite + kombu's filesystem broker under var/) runs the same flows."""

from __future__ import annotations

import pytest

from tests.service.forms import SEED_FORM, form
from tests.service.stack import running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedded():
    with running_stack("embedded", point_here=False, workers=1) as s:
        yield s


def test_seed_form_and_a_training_run(embedded):
    assert embedded.post("/api/v0/new_task", json=SEED_FORM).status_code == 422
    parent = embedded.submit(form(epochs=2))
    done = embedded.wait_task(parent)
    assert done["status"] == "SUCCEEDED", done
    child = embedded.submit(form(task_type="dl_ft", epochs=1, trained_task_id=parent))
    assert embedded.wait_task(child)["status"] == "SUCCEEDED"
    assert embedded.get("/healthz").json()["checks"] == {"database": "ok", "broker": "ok"}


def test_stop_running_task(embedded):
    task_id = embedded.submit(form(epochs=400, batch_size=1))
    embedded.wait_task(task_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 1)
    assert embedded.post(f"/api/v0/tasks/{task_id}/stop").json()["status"] == "STOPPING"
    assert embedded.wait_task(task_id)["status"] == "STOPPED"


def test_deploy_and_predict_at_the_one_address(embedded):
    """API and serving routes answer at the address start.sh prints (embedded/), and its OpenAPI
    document describes both."""
    import time

    from models.datasets.synthetic import synthetic_aal90

    task_id = embedded.submit(form(epochs=1))
    assert embedded.wait_task(task_id)["status"] == "SUCCEEDED"
    assert embedded.post(f"/api/v0/tasks/{task_id}/deploy", json={"name": "embedded-sgn"}).status_code == 202
    deadline = time.monotonic() + 120
    while embedded.get("/v2/models/embedded-sgn/ready").status_code != 200:
        assert time.monotonic() < deadline, embedded.get("/models/embedded-sgn").text
        time.sleep(0.2)
    matrix = synthetic_aal90(n_subjects=4, seed=2).conn[0].tolist()
    # Each gunicorn process follows the registry on its own: one that has not loaded the model
    # yet answers 503 with Retry-After, as a client is told to retry.
    r = embedded.post("/api/v0/models/embedded-sgn/predict", json={"matrix": matrix})
    while r.status_code == 503 and "Retry-After" in r.headers and time.monotonic() < deadline:
        time.sleep(0.2)
        r = embedded.post("/api/v0/models/embedded-sgn/predict", json={"matrix": matrix})
    assert r.status_code == 200 and r.json()["predictions"][0]["class"] in ("NC", "SZ"), r.text
    assert embedded.get("/ping").json() == {"health": "healthy!"}  # the API's /ping on the shared address
    assert embedded.get("/v2/health/live").json() == {"live": True}
    assert "trainyard_serving_requests_total" in embedded.get("/serving/metrics").text
    paths = embedded.get("/openapi.json").json()["paths"]
    assert "/api/v0/new_task" in paths and "/v2/models/{name}/infer" in paths
