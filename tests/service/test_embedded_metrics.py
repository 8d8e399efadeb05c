"""``./start.sh`` on its embedded default: the API's /metrics shows the API's, the workers'
and the reaper's metrics and the fleet's figures, all from one multiprocess folder."""

from __future__ import annotations

import time

import pytest

from tests.service.forms import form
from tests.service.metrics_scrape import value, wait_value
from tests.service.stack import Stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whole():
    s = Stack("embedded")
    try:
        s.spawn("api")  # ./start.sh with no role: migrate, API, both workers, reaper (labelled "api")
        s.wait_http(timeout=120)
        yield s
    finally:
        s.stop()


def test_one_metrics_address_shows_the_whole_box(whole):
    line = f"metrics of the API, the workers and the queue on {whole.url}/metrics"
    deadline = time.monotonic() + 60  # start.sh prints it once its own /ping check answers
    while line not in whole.log("api"):
        assert time.monotonic() < deadline, whole.log("api")[-2000:]
        time.sleep(0.2)
    task_id = whole.submit(form(epochs=2))
    assert whole.wait_task(task_id, timeout=180)["status"] == "SUCCEEDED"
    url = whole.url + "/metrics"
    assert value(url, "trainyard_http_requests_total", route="/api/v0/new_task", method="POST",
                 status="201") == 1
    assert value(url, "trainyard_tasks_finished_total", status="SUCCEEDED", backend="torch") == 1
    assert value(url, "trainyard_worker_epochs_total", backend="torch") == 2
    wait_value(url, "trainyard_task_run_seconds_count", 1, status="SUCCEEDED", backend="torch")
    assert value(url, "trainyard_reaper_sweeps_total", outcome="ok") >= 1
    assert value(url, "trainyard_workers_live", backend="torch") == 1
    assert value(url, "trainyard_queue_depth", backend="torch") == 0
