"""Prometheus metrics of every role on a real stack: the API's multiprocess counts across
gunicorn workers, the fleet's figures from the database (served by the reaper), a worker's own
port with its epochs and fake-NVML GPU gauges, bounded labels."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.service.forms import form
from tests.service.metrics_scrape import samples, scrape, value, wait_value
from tests.service.prometheus_server import Prometheus
from tests.service.stack import Stack, free_port

pytestmark = pytest.mark.slow
FAKE_GPU = {"name": "Fake H100", "total": 80 * 2**30, "used": 3 * 2**30}
TOP_PROJECTS = 3


@pytest.fixture(scope="module")
def mstack():
    """API (2 gunicorn workers), the reaper and a fake-GPU worker, each on its metrics port."""
    s = Stack("pg-redis")
    s.env["TRAINYARD_METRICS_TOP_PROJECTS"] = str(TOP_PROJECTS)
    beat_port, worker_port = free_port(), free_port()
    s.beat_metrics = f"http://127.0.0.1:{beat_port}/metrics"
    s.worker_metrics = f"http://127.0.0.1:{worker_port}/metrics"
    try:
        s.start(workers=0, reaper=False)
        s.spawn("beat", "beat", env=dict(s.env, TRAINYARD_METRICS_PORT=str(beat_port),
                                         TRAINYARD_METRICS_ADDR="127.0.0.1"))
        s.start_worker("gpu0", fake_gpus=[FAKE_GPU],
                       extra_env={"TRAINYARD_METRICS_PORT": str(worker_port),
                                  "TRAINYARD_METRICS_ADDR": "127.0.0.1"})
        s.apply_env()
        yield s
    finally:
        s.stop()


def test_api_counts_add_up_across_gunicorn_workers(mstack):
    api = mstack.url + "/metrics"
    before = value(api, "trainyard_http_requests_total", route="/ping", method="GET", status="200")
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: mstack.get("/ping", timeout=30).status_code, range(60)))
        missing = list(pool.map(lambda i: mstack.get(f"/api/v0/tasks/TASK-none-{i}").status_code, range(9)))
    assert set(codes) == {200} and set(missing) == {404}
    assert value(api, "trainyard_http_requests_total", route="/ping", method="GET", status="200") == before + 60
    assert value(api, "trainyard_http_requests_total", route="/api/v0/tasks/<task_id>", method="GET",
                 status="404") == 9
    assert value(api, "trainyard_http_request_duration_seconds_count", route="/ping", method="GET") == before + 60
    folder = Path(mstack.env["TRAINYARD_VAR_DIR"]) / "metrics" / "api"
    writers = {p.name for p in folder.glob("counter_*.db")}
    assert len(writers) >= 2, f"one gunicorn worker served everything: {writers}"


def test_route_and_method_labels_stay_bounded(mstack):
    for i in range(25):
        assert mstack.get(f"/no/such/route/{i}").status_code == 404
    assert requests.request("BREW", mstack.url + "/ping", timeout=30).status_code in (400, 405, 501)
    routes = {s.labels["route"] for s in samples(mstack.url + "/metrics", "trainyard_http_requests_total")}
    assert "unmatched" in routes
    assert not any(r.startswith("/no/such") for r in routes)
    methods = {s.labels["method"] for s in samples(mstack.url + "/metrics", "trainyard_http_requests_total")}
    assert "BREW" not in methods


def _waiting_form(project: str) -> dict:
    """A task that waits: it asks for more GPU memory than the fake GPU has."""
    f = form(proj_id=project)
    f["requirements"] = {"device": "gpu", "min_free_memory_mb": 10**7}
    return f


def test_project_labels_are_the_largest_few_and_other(mstack):
    ids = [mstack.submit(_waiting_form(f"PROJ-many-{i % 8}")) for i in range(16)]
    ids += [mstack.submit(_waiting_form("PROJ-big")) for _ in range(4)]
    beat = mstack.beat_metrics
    try:
        wait_value(beat, "trainyard_tasks", 20, status="QUEUED")
        projects = {s.labels["project"] for s in samples(beat, "trainyard_tasks")}
        assert len(projects) <= TOP_PROJECTS + 1 and "other" in projects and "PROJ-big" in projects
        assert value(beat, "trainyard_queue_depth", queue=mstack.queue, pool="gpu") == 20
        assert value(beat, "trainyard_queue_oldest_age_seconds", queue=mstack.queue) > 0
    finally:
        for task_id in ids:
            mstack.post(f"/api/v0/tasks/{task_id}/stop")
    wait_value(beat, "trainyard_queue_depth", 0, queue=mstack.queue)
    assert value(beat, "trainyard_queue_oldest_age_seconds", queue=mstack.queue) == 0
    assert value(beat, "trainyard_tasks_finished_total", status="STOPPED") == 20


def test_known_work_shows_in_fleet_and_worker_metrics(mstack):
    ids = [mstack.submit(form(epochs=3, proj_id="PROJ-metrics")) for _ in range(2)]
    done = [mstack.wait_task(task_id, timeout=180) for task_id in ids]
    assert {t["status"] for t in done} == {"SUCCEEDED"}
    # On a crowded machine a 3 s test lease can lapse: a re-queued attempt is one more start.
    starts = sum(t["attempt"] for t in done)
    beat, worker = mstack.beat_metrics, mstack.worker_metrics
    wait_value(beat, "trainyard_tasks_finished_total", 2, status="SUCCEEDED", backend="torch")
    wait_value(beat, "trainyard_task_run_seconds_count", 2, status="SUCCEEDED", backend="torch")
    wait_value(beat, "trainyard_task_queue_wait_seconds_count", starts, backend="torch")
    assert value(beat, "trainyard_queue_depth", queue=mstack.queue) == 0
    assert value(beat, "trainyard_workers_live", backend="torch") == 1
    epochs = value(worker, "trainyard_worker_epochs_total")
    assert epochs == 6 if starts == 2 else epochs >= 6  # a resumed attempt redoes an epoch
    assert value(worker, "trainyard_worker_epoch_seconds_count") == epochs
    assert value(worker, "trainyard_worker_examples_per_second") == 0  # idle again
    wait_value(worker, "trainyard_worker_busy", 0)


def test_worker_exports_nvml_gauges_by_gpu_uuid(mstack):
    worker = mstack.worker_metrics
    wait_value(worker, "trainyard_gpu_memory_total_bytes", FAKE_GPU["total"], gpu_uuid="GPU-fake-0")
    assert value(worker, "trainyard_gpu_memory_used_bytes", gpu_uuid="GPU-fake-0") == FAKE_GPU["used"]
    assert value(worker, "trainyard_gpu_memory_free_bytes", gpu_uuid="GPU-fake-0") == \
        FAKE_GPU["total"] - FAKE_GPU["used"]
    assert value(worker, "trainyard_gpu_temperature_celsius", gpu_uuid="GPU-fake-0") == 40
    assert value(worker, "trainyard_gpu_utilization_ratio", gpu_uuid="GPU-fake-0") == 0
    beats = value(worker, "trainyard_worker_heartbeats_total")
    deadline = time.monotonic() + 30
    while value(worker, "trainyard_worker_heartbeats_total") <= beats:
        assert time.monotonic() < deadline, "the worker's heartbeat counter does not move"
        time.sleep(0.2)
    assert value(worker, "trainyard_worker_last_heartbeat_timestamp_seconds") > time.time() - 30
    (gauge,) = samples(worker, "trainyard_gpu_memory_total_bytes")
    assert gauge.labels["gpu_name"] == FAKE_GPU["name"] and gauge.labels["worker"].startswith("gpu0-")


def test_every_exported_name_follows_the_conventions(mstack):
    for url in (mstack.url + "/metrics", mstack.beat_metrics, mstack.worker_metrics):
        for fam in scrape(url):
            if fam.name.startswith("trainyard_"):
                assert fam.documentation, fam.name
                assert not fam.name.endswith("_total") or fam.type == "counter", fam.name
                for s in fam.samples:
                    assert "task_id" not in s.labels and "task" not in s.labels, s


@pytest.fixture(scope="module")
def prometheus(mstack):
    if shutil.which("prometheus") is None:
        pytest.skip("Debian's prometheus is not installed (test.sh installs it)")
    hostport = lambda url: url.split("//", 1)[1].split("/", 1)[0]  # noqa: E731
    server = Prometheus({"api": [hostport(mstack.url)], "beat": [hostport(mstack.beat_metrics)],
                         "worker": [hostport(mstack.worker_metrics)]}).start()
    try:
        yield server
    finally:
        server.stop()


def test_real_prometheus_sees_known_work(mstack, prometheus):
    q = mstack.queue
    deadline = time.monotonic() + 60
    while prometheus.targets_up() != {"api": 1.0, "beat": 1.0, "worker": 1.0}:
        assert time.monotonic() < deadline, prometheus.targets_up()
        time.sleep(0.5)
    succeeded = 'sum(trainyard_tasks_finished_total{status="SUCCEEDED"}) or vector(0)'
    stopped = 'sum(trainyard_tasks_finished_total{status="STOPPED"}) or vector(0)'
    before_ok = prometheus.scalar(succeeded)
    before_stopped = prometheus.scalar(stopped)
    waiting = [mstack.submit(_waiting_form("PROJ-prom")) for _ in range(3)]
    prometheus.wait_scalar(f'sum(trainyard_queue_depth{{queue="{q}"}})', 3)
    prometheus.wait_scalar(f'trainyard:queue_depth:sum{{queue="{q}"}}', 3)  # the recording rule
    for task_id in waiting:
        assert mstack.post(f"/api/v0/tasks/{task_id}/stop").status_code == 200
    ran = [mstack.submit(form(epochs=1, proj_id="PROJ-prom")) for _ in range(5)]
    for task_id in ran:
        assert mstack.wait_task(task_id, timeout=180)["status"] == "SUCCEEDED"
    prometheus.wait_scalar(succeeded, before_ok + 5)
    prometheus.wait_scalar(stopped, before_stopped + 3)
    prometheus.wait_scalar(f'sum(trainyard_queue_depth{{queue="{q}"}})', 0)
    prometheus.wait_scalar(f'max(trainyard_queue_oldest_age_seconds{{queue="{q}"}})', 0)
    prometheus.wait_scalar('sum(trainyard_worker_busy)', 0)
    assert prometheus.scalar('sum(trainyard_workers_live{backend="torch"})') == 1
    assert prometheus.scalar('sum(trainyard_gpu_memory_total_bytes)') == FAKE_GPU["total"]
    polls = prometheus.scalar('sum(trainyard_http_requests_total{route="/api/v0/tasks/<task_id>",'
                              'method="GET",status="200"})')
    assert polls is not None and polls >= 5
    p99 = prometheus.scalar('histogram_quantile(0.99, sum by (le) '
                            '(rate(trainyard_http_request_duration_seconds_bucket[1m])))')
    assert p99 is not None and 0 < p99 <= 120
    assert prometheus.query('ALERTS{alertname="TrainyardFleetMetricsDown"}') == []
