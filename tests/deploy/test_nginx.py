"""A real nginx with the project's nginx.conf in front of the real gunicorn API (start.sh api).

The only changes to nginx.conf for a single machine: the upstream ``api:8000`` becomes
127.0.0.1 and a free port, ``listen 8080`` a free loopback port, and the /tmp paths (pid, temp
files) a per-test directory. ``nginx -t`` also runs on the unchanged file, with ``api`` resolved
to 127.0.0.1 through a private /etc/hosts (a mount namespace; needs root, as CI has).
The API runs on its defaults (SQLite and the filesystem broker under a temp dir), migrated and
seeded by ``start.sh migrate``, exactly as a container runs it (TRAINYARD_NO_VENV=1).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or too busy starting to answer
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer in {deadline_s}s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def adapt(conf: str, tmp: Path, upstream_port: int, listen_port: int, serving_port: int) -> str:
    out = conf.replace("server api:8000;", f"server 127.0.0.1:{upstream_port};")
    out = out.replace("server serving:8001;", f"server 127.0.0.1:{serving_port};")
    out = out.replace("listen 8080;", f"listen 127.0.0.1:{listen_port};")
    out = out.replace("/tmp/", f"{tmp}/")
    assert out.count(str(tmp)) >= 6 and f"127.0.0.1:{upstream_port}" in out and f"{listen_port};" in out \
        and f"127.0.0.1:{serving_port}" in out, \
        "nginx.conf no longer has the lines this test adapts"
    return out


def test_nginx_t_accepts_the_real_file(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("nginx -t on the unchanged file needs root and unshare to resolve 'api' privately")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 api\n127.0.0.1 serving\n")
    script = f'mount --bind "{hosts}" /etc/hosts && exec "{NGINX}" -t -c "{ROOT / "nginx.conf"}"'
    result = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("nginx-stack")
    api_port, nginx_port, serving_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        TRAINYARD_NO_VENV="1",
        TRAINYARD_VAR_DIR=str(tmp / "var"),
        TRAINYARD_BIND=f"127.0.0.1:{api_port}",
        TRAINYARD_GUNICORN_WORKERS="2",
        TRAINYARD_METRICS_OPEN_NETWORKS="127.0.0.0/8",  # as compose names its network
    )
    migrate = subprocess.run([str(ROOT / "start.sh"), "migrate"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]

    api_log = tmp / "gunicorn.log"
    with api_log.open("wb") as fh:
        api = subprocess.Popen([str(ROOT / "start.sh"), "api"], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    serving_log = tmp / "serving.log"
    with serving_log.open("wb") as fh:
        serving = subprocess.Popen([str(ROOT / "start.sh"), "serve"], cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                   env={**env, "TRAINYARD_SERVE_BIND": f"127.0.0.1:{serving_port}",
                                        "TRAINYARD_SERVE_WORKERS": "1", "TRAINYARD_SERVE_THREADS": "4"})
    nginx = None
    try:
        wait_for(f"http://127.0.0.1:{api_port}/ping", api, api_log)
        wait_for(f"http://127.0.0.1:{serving_port}/v2/health/live", serving, serving_log)
        conf = tmp / "nginx.conf"
        conf.write_text(adapt((ROOT / "nginx.conf").read_text(), tmp, api_port, nginx_port, serving_port))
        check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        nginx_log = tmp / "nginx.log"
        with nginx_log.open("wb") as fh:
            nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"],
                                     stdout=fh, stderr=subprocess.STDOUT)
        wait_for(f"http://127.0.0.1:{nginx_port}/nginx-health", nginx, nginx_log)
        token = (tmp / "var" / "admin-token").read_text().strip()  # the first start's admin token
        yield {"url": f"http://127.0.0.1:{nginx_port}", "api_log": api_log, "nginx_log": nginx_log,
               "headers": {"Authorization": f"Bearer {token}"}, "api_url": f"http://127.0.0.1:{api_port}"}
    finally:
        if nginx is not None:
            stop(nginx)
        stop(serving)
        stop(api)


def test_ping_and_nginx_health(stack) -> None:
    r = requests.get(f"{stack['url']}/ping", timeout=10)
    assert r.status_code == 200 and r.json() == {"health": "healthy!"}
    r = requests.get(f"{stack['url']}/nginx-health", timeout=10)
    assert r.status_code == 200 and r.text == "ok\n"
    r = requests.get(f"{stack['url']}/healthz", timeout=10, headers=stack["headers"])
    assert r.status_code == 200, r.text


def test_metrics_are_not_passed_on_to_outside_callers(stack) -> None:
    # The API lets its scrape network (here loopback, nginx's own address) in without a token;
    # callers through nginx would borrow that address, so nginx answers 404 itself.
    assert requests.get(f"{stack['api_url']}/metrics", timeout=10).status_code == 200
    for path in ("/metrics", "/serving/metrics"):
        r = requests.get(f"{stack['url']}{path}", timeout=10)
        assert r.status_code == 404 and "trainyard_" not in r.text, path


DEMO_FORM = {
    "proj_id": "deploy-test", "proj_name": "through nginx", "task_name": "sgn via proxy",
    "task_type": "dl_ts",
    "train_data": ["A_181210_140_SZ_sfMRI_AAL90"], "val_data": ["A_181210_140_SZ_sfMRI_AAL90"],
    "enable_test": "false", "test_data": [],
    "model": "SGN",
    "param_set": {"learning_rate": "0.001", "batch_size": "16", "lr_step_size": "10",
                  "lr_decay": "0.5", "epochs": "1", "trained_task_id": ""},
}


def test_a_task_form_goes_through(stack) -> None:
    r = requests.post(f"{stack['url']}/api/v0/new_task", json=DEMO_FORM, timeout=30, headers=stack["headers"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["error_num"] == 0, body
    task_id = body["task_form"]["task_id"]
    r = requests.get(f"{stack['url']}/api/v0/tasks/{task_id}", timeout=10, headers=stack["headers"])
    assert r.status_code == 200, r.text


def test_a_bad_form_gets_the_apps_error_not_nginxs(stack) -> None:
    r = requests.post(f"{stack['url']}/api/v0/new_task", json={**DEMO_FORM, "task_type": "nope"}, timeout=30, headers=stack["headers"])
    assert r.status_code == 422, r.text
    assert r.json()["error_num"] == 422
    assert [e["field"] for e in r.json()["errors"]] == ["task_type"]


def test_a_large_dataset_upload_passes_nginx(stack) -> None:
    from models.datasets.synthetic import synthetic_aal90

    data = synthetic_aal90(n_subjects=48, seed=7).to_npz_bytes()
    assert len(data) > 1024 * 1024, "the upload must exceed nginx's 1 MB default body limit"
    r = requests.post(f"{stack['url']}/api/v0/datasets",
                      files={"file": ("deploy_upload.npz", io.BytesIO(data), "application/octet-stream")},
                      data={"name": "deploy_upload"}, timeout=120, headers=stack["headers"])
    assert r.status_code != 413, "nginx refused the upload"
    assert r.status_code == 201, r.text
    assert r.json()["dataset"]["name"] == "deploy_upload"
    assert r.json()["dataset"]["size"] > 0


def test_forwarded_headers_reach_gunicorn(stack) -> None:
    marker = f"/ping?probe={time.monotonic_ns()}"
    r = requests.get(f"{stack['url']}{marker}", headers={"X-Forwarded-For": "203.0.113.7", "Host": "trainyard.test"},
                     timeout=10)
    assert r.status_code == 200
    line = None
    for _ in range(50):  # the access log line is written after the response
        lines = [ln for ln in stack["api_log"].read_text().splitlines() if marker in ln]
        if lines:
            line = lines[-1]
            break
        time.sleep(0.1)
    assert line, "no gunicorn access log line for the request"
    # nginx appends the client's address to the chain it was given
    assert 'xff="203.0.113.7, 127.0.0.1"' in line, line
    assert 'proto="http"' in line, line
    assert 'host="trainyard.test"' in line, line


def test_json_is_gzipped(stack) -> None:
    for _ in range(3):  # a task list long enough for gzip_min_length
        assert requests.post(f"{stack['url']}/api/v0/new_task", json=DEMO_FORM, timeout=30, headers=stack["headers"]).ok
    r = requests.get(f"{stack['url']}/api/v0/tasks", headers={**stack["headers"], "Accept-Encoding": "gzip"}, timeout=10)
    assert r.status_code == 200
    assert len(r.content) > 1024, "the reply is too short for gzip_min_length; pick a longer one"
    assert r.headers.get("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in r.headers.get("Vary", "")


def test_nginx_logs_requests_with_its_format(stack) -> None:
    requests.get(f"{stack['url']}/ping", timeout=10)
    text = stack["nginx_log"].read_text()
    assert re.search(r'"GET /ping HTTP/1\.1" 200 \d+ rt=[\d.]+ urt=[\d.]+', text), text[-2000:]
    assert "/nginx-health" not in text, "the health location must not log"


def test_inference_paths_reach_the_serving_role(stack) -> None:
    r = requests.get(f"{stack['url']}/v2/health/live", timeout=10)
    assert r.status_code == 200 and r.json() == {"live": True}
    r = requests.post(f"{stack['url']}/predictions/nope", json=[[1.0]], timeout=10, headers=stack["headers"])
    assert r.status_code == 404 and r.json()["type"] == "ModelNotFoundException"  # TorchServe's shape
    r = requests.post(f"{stack['url']}/api/v0/models/nope/predict", json={"matrix": [[1.0]]}, timeout=10, headers=stack["headers"])
    assert r.status_code == 404 and "nope" in r.json()["msg"]
    # control-plane paths stay on the API
    assert requests.get(f"{stack['url']}/api/v0/models", timeout=10, headers=stack["headers"]).status_code == 200
    assert requests.get(f"{stack['url']}/models", timeout=10, headers=stack["headers"]).json() == {"models": []}
