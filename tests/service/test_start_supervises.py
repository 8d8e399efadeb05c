"""The all-in-one ``./start.sh`` supervises its roles: a role that dies (a torch worker SIGKILLed,
as the kernel's OOM killer does) is logged and started again while the API keeps answering, the
new worker runs the next task, and Ctrl-C still stops every process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from tests.service.forms import form
from tests.service.stack import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 180  # seconds: bounds a hang, not a verdict


def _until(what: str, check, deadline: float = DEADLINE):  # noqa: ANN001, ANN202
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.2)


def _torch_worker(start: subprocess.Popen) -> psutil.Process | None:
    for proc in psutil.Process(start.pid).children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "celery" in cmd and "tasks.worker" in cmd:
            return proc
    return None


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/ping", timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture()
def started(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_") and k != "PORT"}
    env.update(TRAINYARD_VAR_DIR=str(tmp_path / "var"), PORT=str(port), TRAINYARD_ADMIN_TOKEN="ty_supervise-test-0123",
               TRAINYARD_NO_VENV="1", PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
               OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    with open(tmp_path / "start.log", "wb") as log:  # the child keeps its own descriptor
        start = subprocess.Popen([str(ROOT / "start.sh")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _until("the API", lambda: _answers(url))
        yield start, url, tmp_path / "start.log"
    finally:
        if start.poll() is None:
            os.killpg(start.pid, signal.SIGKILL)
        start.wait(timeout=30)


def test_a_killed_worker_is_started_again_and_ctrl_c_stops_everything(started):
    start, url, log = started
    headers = {"Authorization": "Bearer ty_supervise-test-0123"}
    first = _until("the torch worker", lambda: _torch_worker(start))
    first.send_signal(signal.SIGKILL)
    second = _until("a new torch worker", lambda: (w := _torch_worker(start)) is not None and w.pid != first.pid and w)
    assert _answers(url)  # the API never went down with it
    assert "the worker role exited" in log.read_text()
    r = requests.post(url + "/api/v0/new_task", json=form(epochs=1), headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    task_id = r.json()["task_form"]["task_id"]
    done = _until("the task to finish", lambda: (t := requests.get(f"{url}/api/v0/tasks/{task_id}?view=full", headers=headers,
                                                                   timeout=10).json())["status"] in
                  ("SUCCEEDED", "FAILED", "STOPPED") and t)
    assert done["status"] == "SUCCEEDED" and done["worker"], done
    everything = [start.pid, *(p.pid for p in psutil.Process(start.pid).children(recursive=True))]
    assert second.pid in everything
    os.killpg(start.pid, signal.SIGINT)  # as Ctrl-C in a terminal sends it to the foreground group
    assert start.wait(timeout=DEADLINE) == 0 or start.returncode in (130, -signal.SIGINT)
    _until("every process to stop", lambda: not [p for p in everything if psutil.pid_exists(p)
                                                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE])
