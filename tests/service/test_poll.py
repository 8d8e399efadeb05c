"""The poll (GET /api/v0/tasks/<id>): a light default view, ?view=full, an ETag that makes an
unchanged task answer 304, ?wait= that wakes when the task changes; bad query parameters 400."""

from __future__ import annotations

import threading

import pytest

from tests.service.forms import form

pytestmark = pytest.mark.slow


def waiting_task(stack) -> str:
    """A task that waits QUEUED (it wants a GPU; the test fleet has none): it changes only when told."""
    body = form(epochs=1)
    body["requirements"] = {"device": "gpu"}
    return stack.submit(body)


def test_the_default_view_is_light_and_full_has_everything(stack):
    task_id = stack.submit(form(epochs=2))
    done = stack.wait_task(task_id)
    light = stack.get(f"/api/v0/tasks/{task_id}").json()
    assert light["status"] == "SUCCEEDED" and light["progress"]["epoch"] == 2
    assert light["latest_epoch"]["epoch"] == 2 and "test_accuracy" in light["metrics"]
    assert light["links"]["full"] == f"/api/v0/tasks/{task_id}?view=full"
    assert "result" not in light and "param_set" not in light
    assert done["result"]["splits"] and done["param_set"]["epochs"] == 2  # stack.task asks for view=full
    assert len(stack.get(f"/api/v0/tasks/{task_id}").content) < len(stack.get(f"/api/v0/tasks/{task_id}?view=full").content)


@pytest.mark.parametrize("view", ["light", "full"])
def test_an_unchanged_task_answers_304(stack, view):
    task_id = waiting_task(stack)
    first = stack.get(f"/api/v0/tasks/{task_id}", params={"view": view})
    etag = first.headers["ETag"]
    again = stack.get(f"/api/v0/tasks/{task_id}", params={"view": view}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    stack.post(f"/api/v0/tasks/{task_id}/stop")
    changed = stack.get(f"/api/v0/tasks/{task_id}", params={"view": view}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["status"] == "STOPPED"
    assert changed.headers["ETag"] != etag


def test_a_waiting_poll_wakes_when_the_task_changes(stack):
    task_id = waiting_task(stack)
    etag = stack.get(f"/api/v0/tasks/{task_id}").headers["ETag"]
    replies = []
    poll = threading.Thread(target=lambda: replies.append(stack.get(
        f"/api/v0/tasks/{task_id}", params={"wait": 60}, headers={"If-None-Match": etag})))
    poll.start()
    still = stack.get(f"/api/v0/tasks/{task_id}", headers={"If-None-Match": etag})
    assert still.status_code == 304 and poll.is_alive()  # the waiting poll has nothing to say yet
    stack.post(f"/api/v0/tasks/{task_id}/stop")
    poll.join(timeout=90)
    assert replies and replies[0].status_code == 200 and replies[0].json()["status"] == "STOPPED"


def test_a_waiting_poll_on_an_unchanged_task_ends_with_304(stack):
    task_id = waiting_task(stack)
    etag = stack.get(f"/api/v0/tasks/{task_id}").headers["ETag"]
    r = stack.get(f"/api/v0/tasks/{task_id}", params={"wait": 0.5}, headers={"If-None-Match": etag})
    assert r.status_code == 304
    stack.post(f"/api/v0/tasks/{task_id}/stop")


@pytest.mark.parametrize("path,params,field", [
    ("/api/v0/tasks/{id}", {"view": "everything"}, "view"),
    ("/api/v0/tasks/{id}", {"wait": "61"}, "wait"),
    ("/api/v0/tasks/{id}", {"wait": "soon"}, "wait"),
    ("/api/v0/tasks/{id}/model", {"kind": "onnx"}, "kind"),
    ("/api/v0/tasks", {"cursor": "not-a-cursor"}, "cursor"),
])  # the listing's status, sort and limit: tests/service/test_bad_input.py
def test_bad_query_parameters_answer_400_naming_the_parameter(stack, path, params, field):
    task_id = waiting_task(stack)
    r = stack.get(path.format(id=task_id), params=params)
    assert r.status_code == 400 and r.json()["error_num"] == 400, r.text
    assert r.json()["errors"][0]["field"] == field
    stack.post(f"/api/v0/tasks/{task_id}/stop")
