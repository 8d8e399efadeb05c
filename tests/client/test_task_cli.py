"""`trainyard submit/wait/stop` and the Python client against a real stack (API, worker, reaper)."""

from __future__ import annotations

import json
import os

import pytest

from client.api import ApiError, Client
from tests.client.conftest import trainyard
from tests.service.forms import form
from tests.service.stack import Stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack():
    s = Stack("pg-redis")
    # Leases of a normal length: these tests are about the client, and the stack's 3 s test leases
    # expire under a loaded machine's scheduling delays ("worker lost 3 times").
    s.env.update(TRAINYARD_LEASE_SECONDS="60", TRAINYARD_REQUEUE_AFTER_SECONDS="60")
    try:
        yield s.start(workers=1)
    finally:
        s.stop()


def _env(stack) -> dict:
    return {**os.environ, "TRAINYARD_URL": stack.url, "TRAINYARD_TOKEN": stack.token}


def test_submit_follow_json_reports_every_epoch_once_and_exits_by_state(stack, tmp_path):
    path = tmp_path / "form.json"
    path.write_text(json.dumps(form(epochs=3)))
    out = trainyard("submit", str(path), "--follow", "--json", env=_env(stack), timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["epoch"] for r in rows[1:-1]] == [1, 2, 3]
    assert rows[-1]["final"] is True and rows[-1]["status"] == "SUCCEEDED"


def test_plain_follow_without_a_terminal_has_no_control_characters(stack, tmp_path):
    path = tmp_path / "form.yaml"
    path.write_text(json.dumps(form(epochs=2)))  # JSON is YAML too
    out = trainyard("submit", str(path), "--follow", env=_env(stack), timeout=600)
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\r" not in out.stdout
    lines = out.stdout.splitlines()
    assert sum("epoch " in line for line in lines) == 2 and lines[-1].split()[1].startswith("SUCCEEDED")


def test_a_rejected_form_lists_its_field_errors(stack, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(form(epochs=-1, batch_size=0)))
    out = trainyard("submit", str(path), env=_env(stack))
    assert out.returncode == 1 and "HTTP 422" in out.stderr
    assert "param_set.epochs" in out.stderr and "param_set.batch_size" in out.stderr  # every field listed
    with pytest.raises(ApiError) as err:
        Client(stack.url, token=stack.token).submit(form(epochs=-1))
    assert err.value.status == 422 and any(e["field"] == "param_set.epochs" for e in err.value.errors)


def test_wait_exits_with_the_stopped_code(stack):
    client = Client(stack.url, token=stack.token)
    task_id = client.submit(form(epochs=50))
    client.stop(task_id)
    out = trainyard("wait", task_id, env=_env(stack), timeout=600)
    assert out.returncode == 11, out.stdout + out.stderr
    assert client.task(task_id)["status"] == "STOPPED"
