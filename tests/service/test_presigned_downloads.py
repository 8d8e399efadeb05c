"""Downloads of a task's artifacts (issue 29): from an s3:// store (a real moto server) the API
answers a redirect to a short-lived presigned URL, after the same access checks as before; a
file:// store, ``?redirect=false`` and ``TRAINYARD_ARTIFACT_PRESIGN_SECONDS=0`` stream the bytes
through the API. The Python client and the CLI follow the redirect without sending the token on
to the store."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
import requests
from click.testing import CliRunner

from app import create_app
from app.openapi import api_document
from client.api import Client
from client.cli import main
from tests.blobstore.moto_server import moto_server
from tests.service.forms import form
from tests.service.openapi_conformance import Conformance
from tests.service.stack import ADMIN_TOKEN, free_port, running_stack

pytestmark = pytest.mark.slow
CHECKPOINT_EPOCH = 3
CONFORMANCE = Conformance(api_document(create_app()))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _projects(s) -> dict:  # noqa: ANN001
    """Projects P (the task's) and O; a token of olga, who views O only; of vera, who views P."""
    tokens = {}
    for project, user in (("P", "vera"), ("O", "olga")):
        assert s.post("/api/v0/projects", json={"id": project, "name": project}).status_code == 201
        r = s.post(f"/api/v0/projects/{project}/members", json={"user": user, "role": "viewer"})
        assert r.status_code == 201, r.text
        r = s.post("/api/v0/tokens", json={"user": user, "name": user})
        assert r.status_code == 201, r.text
        tokens[user] = {"Authorization": f"Bearer {r.json()['secret']}"}
    return tokens


def _save_checkpoint(task_id: str) -> bytes:
    """An epoch checkpoint stored as an MXNet task keeps one (through the DAO, into the stack's store)."""
    from dao import artifact_queries
    from dao.db import session_scope

    data = uuid.uuid4().bytes * 1000
    with session_scope() as session:
        artifact_queries.save_artifact(session, task_id, artifact_queries.epoch_checkpoint_kind(CHECKPOINT_EPOCH),
                                       data, epoch=CHECKPOINT_EPOCH)
    return data


@pytest.fixture(scope="module")
def s3_stack():
    """Artifacts in a moto bucket; one worker trains a task of project P."""
    with moto_server() as moto:
        bucket = f"trainyard-{uuid.uuid4().hex[:8]}"
        moto.create_bucket(bucket)
        with running_stack(workers=1, reaper=False, env=moto.env(bucket, "artifacts")) as s:
            s.endpoint = moto.endpoint_url
            s.tokens = _projects(s)
            task = s.wait_task(s.submit(form(proj_id="P", epochs=1)))
            assert task["status"] == "SUCCEEDED", task
            s.task_id = task["task_id"]
            s.checkpoint = _save_checkpoint(s.task_id)
            yield s


def _paths(task_id: str) -> dict[str, str]:
    return {"weights": f"/api/v0/tasks/{task_id}/model",
            "checkpoint": f"/api/v0/tasks/{task_id}/checkpoints/{CHECKPOINT_EPOCH}",
            "curves": f"/api/v0/tasks/{task_id}/plots/curves.png"}


def test_a_download_from_s3_redirects_to_a_presigned_url_that_needs_no_token(s3_stack):
    names = {"weights": f"{s3_stack.task_id}-weights.safetensors",
             "checkpoint": f"{s3_stack.task_id}-{CHECKPOINT_EPOCH:04d}.zip", "curves": None}
    for what, path in _paths(s3_stack.task_id).items():
        r = CONFORMANCE.check(s3_stack.get(path, allow_redirects=False))
        assert r.status_code == 302, (what, r.status_code, r.text)
        assert r.headers["Location"].startswith(s3_stack.endpoint), r.headers["Location"]
        assert "Signature" in r.headers["Location"] and r.headers["Cache-Control"] == "no-store"
        fetched = requests.get(r.headers["Location"], timeout=30)  # no token: the URL is the credential
        assert fetched.status_code == 200, fetched.text
        assert _sha(fetched.content) == r.headers["X-Content-SHA256"], what
        if names[what]:
            assert fetched.headers["Content-Disposition"] == f'attachment; filename="{names[what]}"'
        else:
            assert fetched.headers["Content-Type"] == "image/png"
    r = s3_stack.get(_paths(s3_stack.task_id)["checkpoint"])  # followed: the bytes stored
    assert r.content == s3_stack.checkpoint and r.history[0].status_code == 302


def test_a_viewer_of_the_project_is_redirected_a_viewer_of_another_gets_404_and_no_location(s3_stack):
    for path in _paths(s3_stack.task_id).values():
        r = s3_stack.get(path, headers=s3_stack.tokens["vera"], allow_redirects=False)
        assert r.status_code == 302, r.text
        r = s3_stack.get(path, headers=s3_stack.tokens["olga"], allow_redirects=False)
        assert r.status_code == 404, r.text
        assert "Location" not in r.headers and s3_stack.endpoint not in r.text


def test_redirect_false_streams_through_the_api(s3_stack):
    r = CONFORMANCE.check(s3_stack.get(_paths(s3_stack.task_id)["checkpoint"], params={"redirect": "false"},
                                       allow_redirects=False))
    assert r.status_code == 200 and r.content == s3_stack.checkpoint
    assert r.headers["X-Content-SHA256"] == _sha(r.content) and int(r.headers["Content-Length"]) == len(r.content)
    r = s3_stack.get(_paths(s3_stack.task_id)["weights"], params={"redirect": "no"}, allow_redirects=False)
    assert r.status_code == 400 and "redirect" in r.json()["msg"], r.text


def test_presign_seconds_0_streams_through_the_api(s3_stack):
    port = free_port()
    env = {**s3_stack.env, "TRAINYARD_ARTIFACT_PRESIGN_SECONDS": "0", "TRAINYARD_BIND": f"127.0.0.1:{port}"}
    proc = s3_stack.spawn("api-no-presign", "api", env=env)
    url = f"http://127.0.0.1:{port}{_paths(s3_stack.task_id)['checkpoint']}"
    deadline = time.monotonic() + 60
    while True:
        try:
            r = requests.get(url, headers=s3_stack.headers, allow_redirects=False, timeout=10)
            break
        except requests.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, s3_stack.log("api-no-presign")[-3000:]
            time.sleep(0.2)
    assert r.status_code == 200 and r.content == s3_stack.checkpoint, (r.status_code, r.headers)
    assert "Location" not in r.headers


def test_the_python_client_and_the_cli_follow_the_redirect_without_the_token(s3_stack, tmp_path):
    client = Client(url=s3_stack.url, token=ADMIN_TOKEN, retries=0)
    sent: list[tuple[str, bool]] = []  # (URL, whether the request carried the token)
    client.http.hooks["response"].append(
        lambda resp, **_: sent.append((resp.url, "Authorization" in resp.request.headers)))
    got = client.download(s3_stack.task_id, str(tmp_path / "py"), ("model",))["model"]
    assert got.name == f"{s3_stack.task_id}-weights.safetensors"
    store_requests = [authed for url, authed in sent if url.startswith(s3_stack.endpoint)]
    assert store_requests == [False], sent
    assert all(authed for url, authed in sent if url.startswith(s3_stack.url)), sent

    out = CliRunner().invoke(main, ["--url", s3_stack.url, "--token", ADMIN_TOKEN, "download", s3_stack.task_id,
                                    "-o", str(tmp_path / "cli"), "--only", "model"])
    assert out.exit_code == 0, out.output
    by_cli = tmp_path / "cli" / got.name
    assert by_cli.read_bytes() == got.read_bytes()
    r = s3_stack.get(_paths(s3_stack.task_id)["weights"], allow_redirects=False)
    assert _sha(got.read_bytes()) == r.headers["X-Content-SHA256"]


@pytest.fixture(scope="module")
def file_stack():
    """The default file:// store; a task of P (no worker: stopped while queued) with weights and
    a checkpoint stored through the DAO."""
    with running_stack(workers=0, reaper=False) as s:
        s.tokens = _projects(s)
        s.task_id = s.submit(form(proj_id="P", epochs=1))
        assert s.post(f"/api/v0/tasks/{s.task_id}/stop").status_code == 200
        s.checkpoint = _save_checkpoint(s.task_id)
        yield s


def test_a_file_store_streams_through_the_api(file_stack):
    path = _paths(file_stack.task_id)["checkpoint"]
    r = CONFORMANCE.check(file_stack.get(path, allow_redirects=False))
    assert r.status_code == 200 and r.content == file_stack.checkpoint and "Location" not in r.headers
    assert r.headers["X-Content-SHA256"] == _sha(r.content)
    assert r.headers["Content-Disposition"] == f'attachment; filename="{file_stack.task_id}-{CHECKPOINT_EPOCH:04d}.zip"'
    assert file_stack.get(path, headers=file_stack.tokens["olga"], allow_redirects=False).status_code == 404
    assert file_stack.get(path, headers=file_stack.tokens["vera"], allow_redirects=False).status_code == 200
