"""What probing found (issue 12), through a real API on PostgreSQL + Redis: a NUL character
anywhere is a 4xx naming where it is, a file name longer than its column is a 422, a 405 says
which methods are allowed, and a database that accepts connections and never answers gives a
prompt 503 while /ping, which never touches the database, still answers."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
import requests

from tests.service.forms import form
from tests.service.stack import free_port, running_stack


@pytest.fixture(scope="module")
def api():
    with running_stack(workers=0, reaper=False) as s:
        yield s


def _form_with(path: str, value) -> dict:  # noqa: ANN001
    body = form()
    *parents, leaf = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    target[leaf] = value
    return body


JSON_CASES = [  # (route, body, the field the answer must name)
    ("/api/v0/new_task", _form_with("proj_id", "P\x00"), "proj_id"),
    ("/api/v0/new_task", _form_with("task_name", "a\x00b"), "task_name"),
    ("/api/v0/new_task", _form_with("train_data", ["A\x00"]), "train_data[0]"),
    ("/api/v0/new_task", _form_with("param_set.trained_task_id", "\x00"), "param_set.trained_task_id"),
    ("/api/v0/new_task", _form_with("param_set.note\x00", 1), "param_set.note\x00"),
    ("/train", {"network": "small-cnn\x00", "train_data": ["demo_shapes_28"], "num_epoch": 1,
                "batch_size": 1}, "network"),
    ("/eval", {"trained_task_id": "TASK\x00", "test_data": ["demo_shapes_28"]}, "trained_task_id"),
    ("/stop", {"task_id": "TASK\x00"}, "task_id"),
]


@pytest.mark.parametrize("route, body, field", JSON_CASES, ids=[f"{c[0]}:{c[2]!r}" for c in JSON_CASES])
def test_a_nul_in_a_json_field_is_a_422_naming_it(api, route, body, field):
    r = api.post(route, json=body)
    assert r.status_code == 422, r.text
    assert {"field": field, "problem": "must not contain a NUL character"} in r.json()["errors"]


@pytest.mark.parametrize("path, field", [
    ("/api/v0/tasks/TASK%00", "task_id"), ("/api/v0/tasks/TASK%00/epochs", "task_id"),
    ("/api/v0/datasets/a%00b", "name"), ("/api/v0/tasks?proj_id=P%00", "proj_id"),
    ("/api/v0/tasks?status=QUEUED&model=%00", "model"),
])
def test_a_nul_in_the_url_is_a_400_naming_the_parameter(api, path, field):
    r = api.get(path)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0] == {"field": field, "problem": "must not contain a NUL character"}


@pytest.mark.parametrize("data, filename, field", [
    ({"name": "ok\x00"}, "x.npz", "name"), ({"kind": "image", "name": "pets\x00"}, "x.zip", "name"),
    ({"kind": "image"}, "x\x00.zip", "file"),
])
def test_a_nul_in_an_upload_form_is_a_422(api, data, filename, field):
    r = api.post("/api/v0/datasets", files={"file": (filename, b"PK")}, data=data)
    assert r.status_code == 422, r.text
    assert {"field": field, "problem": "must not contain a NUL character"} in r.json()["errors"]


@pytest.mark.parametrize("kind", ["connectome", "image"])
def test_a_file_name_longer_than_its_column_is_a_422(api, kind):
    r = api.post("/api/v0/datasets", files={"file": ("n" * 297 + ".npz", b"x")}, data={"kind": kind, "name": "long"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "file", "problem": "the file name is longer than 300 characters"}]
    assert api.get("/api/v0/datasets/long").status_code == 404


def test_a_405_says_which_methods_are_allowed(api):
    r = api.delete("/api/v0/new_task", timeout=30)
    assert r.status_code == 405 and r.json()["error_num"] == 405
    assert set(r.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    r = api.put("/api/v0/datasets/demo", timeout=30)
    assert r.status_code == 405 and {"GET", "DELETE"} <= set(r.headers["Allow"].split(", "))


@contextlib.contextmanager
def black_hole():
    """A TCP port that accepts connections and never answers: a database behind a partition."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in held:
            conn.close()


def test_a_database_that_never_answers_gives_a_prompt_503_and_ping_still_answers(api):
    with black_hole() as port:
        api_port = free_port()
        env = dict(api.env, TRAINYARD_BIND=f"127.0.0.1:{api_port}", TRAINYARD_DB_CONNECT_TIMEOUT_SECONDS="2",
                   TRAINYARD_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{port}/trainyard")
        proc = api.spawn("api-partitioned", "api", env=env)
        url = f"http://127.0.0.1:{api_port}"
        try:
            _wait_for(url, proc, api)
            assert requests.get(url + "/ping", timeout=5).json() == {"health": "healthy!"}
            # The black hole accepts and never answers: without a connect bound libpq waits for
            # ever, so an answer at all (a 503) shows the bound; the client's timeout only bounds
            # that hang. Which bound libpq gets is checked below, not timed.
            r = requests.get(url + "/api/v0/tasks/TASK20012912454500", timeout=60, headers=api.headers)
            assert r.status_code == 503 and r.json()["error_num"] == 503
            r = requests.post(url + "/api/v0/new_task", json=form(), timeout=60, headers=api.headers)
            assert r.status_code == 503
            assert requests.get(url + "/ping", timeout=5).status_code == 200
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_the_connect_bound_libpq_gets_is_the_setting():
    """What makes the 503 above prompt: every PostgreSQL connection (the pool's, the poll
    listener's) gets TRAINYARD_DB_CONNECT_TIMEOUT_SECONDS as libpq's connect_timeout."""
    from contracts.settings import Settings
    from dao.db import _postgres_timeouts

    assert _postgres_timeouts(Settings(db_connect_timeout_seconds=2))["connect_timeout"] == 2
    assert _postgres_timeouts(Settings(db_connect_timeout_seconds=7))["connect_timeout"] == 7


def _wait_for(url: str, proc, api) -> None:  # noqa: ANN001
    """Until the API's workers have booted (the port listens before they import the app)."""
    for _ in range(600):
        try:
            requests.get(url + "/ping", timeout=60)
            return
        except requests.ConnectionError:
            assert proc.poll() is None, api.log("api-partitioned")[-3000:]
            threading.Event().wait(0.1)
    raise AssertionError("the partitioned API never answered /ping")


def test_an_image_zip_bomb_is_refused_before_it_is_stored(api):
    from tests.models.test_image_archive_bombs import zip_bomb

    r = api.post("/api/v0/datasets", files={"file": ("pets.zip", zip_bomb())}, data={"kind": "image", "name": "bomb"})
    assert r.status_code == 422, r.text
    assert any("zip bomb" in e["problem"] and e["field"] == "file" for e in r.json()["errors"])
    assert api.get("/api/v0/datasets/bomb").status_code == 404


def test_a_rejected_image_upload_keeps_no_blob(api):
    from sqlalchemy import func, select

    from blobstore import get_store
    from dao import dataset_queries
    from dao.db import session_scope
    from dao.tables import Dataset
    from models.mxnet_backend.demo import make_demo_images

    blob = make_demo_images(per_class=2, seed=4).to_npz_bytes()
    r = api.post("/api/v0/datasets", files={"file": ("x.npz", blob)}, data={"kind": "image", "name": "doomed"})
    assert r.status_code == 202, r.text
    stored = select(Dataset.blob_key, Dataset.size, func.length(Dataset.in_row)).where(Dataset.name == "doomed")
    with session_scope() as session:
        key, size, in_row = session.execute(stored).one()
        assert get_store().get_bytes(key) == blob and (size, in_row) == (len(blob), None)
        # what the MXNet worker does with an upload it cannot read (tasks/image_imports.py)
        assert dataset_queries.mark_dataset_rejected(session, "doomed", ["not images"])
    with session_scope() as session:
        assert session.execute(stored).one() == (None, 0, None)
    assert not get_store().exists(key)
    row = api.get("/api/v0/datasets/doomed").json()
    assert row["status"] == "REJECTED" and row["problems"] == ["not images"] and row["size"] == 0


@pytest.mark.parametrize("filename, problem", [("x.npz", "x.npz: not a zip (an .npz is one)"),
                                               ("pets.tar.gz", "pets.tar.gz: not a zip or tar archive")])
def test_an_image_file_that_is_no_archive_is_refused_unstored(api, filename, problem):
    r = api.post("/api/v0/datasets", files={"file": (filename, b"\x00garbage" * 100_000)},
                 data={"kind": "image", "name": "noarchive"})
    assert r.status_code == 422, r.text
    assert {"field": "file", "problem": problem} in r.json()["errors"]
    assert api.get("/api/v0/datasets/noarchive").status_code == 404


def test_a_non_multipart_body_over_the_json_limit_is_a_413_naming_it(api):
    r = api.post("/api/v0/datasets", data=b"x=" + b"y" * (300 * 1024),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413, r.text
    assert r.json()["msg"] == "the request body is larger than the limit of 256 KiB (TRAINYARD_MAX_JSON_KB)"
