"""The poll (GET /api/v0/tasks/<id>): a light default view, ?view=full, an ETag that makes an
unchanged task answer 304, ?wait= that wakes when the task changes; bad query parameters 400.
Server-sent events (GET /api/v0/tasks/<id>/events) through gunicorn's gthread workers: status,
epochs, end, resume with Last-Event-ID, heartbeats, and a bounded number of waiting requests
per worker (503 past it)."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import sqlalchemy

from tests.service.forms import form
from tests.service.stack import running_stack

pytestmark = pytest.mark.slow
SLOTS = 2  # waiting requests per gunicorn worker; one worker, four threads


@pytest.fixture(scope="module")
def stack():
    env = {"TRAINYARD_GUNICORN_WORKERS": "1", "TRAINYARD_GUNICORN_THREADS": "4",
           "TRAINYARD_STREAM_SLOTS": str(SLOTS), "TRAINYARD_EVENTS_HEARTBEAT_SECONDS": "0.5"}
    with running_stack(workers=1, env=env) as s:
        yield s


class Events:
    """A server-sent-events client over one streamed response, as an EventSource parses it."""

    def __init__(self, stack, task_id: str, last_event_id: str | None = None):
        headers = stack.headers | {"Accept": "text/event-stream"} | (
            {"Last-Event-ID": last_event_id} if last_event_id else {})
        self.response = requests.get(f"{stack.url}/api/v0/tasks/{task_id}/events", headers=headers,
                                     stream=True, timeout=30)
        self.lines = self.response.iter_lines(decode_unicode=True) if self.response.status_code == 200 else None
        self.comments = 0

    def next(self) -> dict:
        event: dict = {}
        for line in self.lines:
            if line == "":
                if "event" in event:
                    return event
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")
        raise AssertionError("the stream closed before its next event")

    def until_end(self) -> list[dict]:
        events = []
        while not events or events[-1]["event"] != "end":
            events.append(self.next())
        return events

    def close(self) -> None:
        self.response.close()


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
    # The view may still change just after the submit (the dispatcher notes why the task waits;
    # tasks ahead of it in the queue are stopped by other tests): a 200 is right then, with a new
    # ETag; once the task holds still, the wait must end with 304.
    for _ in range(10):
        before = stack.get(f"/api/v0/tasks/{task_id}")
        r = stack.get(f"/api/v0/tasks/{task_id}", params={"wait": 0.5},
                      headers={"If-None-Match": before.headers["ETag"]})
        if r.status_code == 304:
            break
        assert r.status_code == 200 and r.headers["ETag"] != before.headers["ETag"], r.text
    else:
        raise AssertionError("a waiting poll on a task that held still never answered 304")
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


def test_events_stream_status_and_epochs_until_the_end_and_resume(stack):
    task_id = stack.submit(form(epochs=2))
    stream = Events(stack, task_id)
    assert stream.response.headers["Content-Type"].startswith("text/event-stream")
    events = stream.until_end()
    stream.close()
    assert events[0]["event"] == "status"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["id"] for e in epochs] == ["1.1", "1.2"]
    assert [json.loads(e["data"])["epoch"] for e in epochs] == [1, 2]
    statuses = [json.loads(e["data"]) for e in events if e["event"] == "status"]
    assert statuses[-1]["status"] == "SUCCEEDED" and statuses[-1]["progress"]["epoch"] == 2
    assert events[-1] == {"id": "end", "event": "end", "data": json.dumps({"task_id": task_id, "status": "SUCCEEDED"},
                                                                         separators=(",", ":"))}
    # A reconnect after epoch 1 gets the current status, epoch 2 alone, and the end.
    again = Events(stack, task_id, last_event_id="1.1")
    resumed = again.until_end()
    again.close()
    assert [e["event"] for e in resumed] == ["epoch", "status", "end"] and resumed[0]["id"] == "1.2"
    # After the end: 204, which tells an EventSource to stop reconnecting.
    assert Events(stack, task_id, last_event_id="end").response.status_code == 204


def test_events_beat_while_nothing_happens_and_end_with_a_stop(stack):
    task_id = waiting_task(stack)
    stream = Events(stack, task_id)
    first = stream.next()
    assert first["event"] == "status" and json.loads(first["data"])["status"] == "QUEUED"
    heartbeats = 0
    while heartbeats < 2:  # after 0.5 s of silence each (a read waits 30 s at most, never hangs)
        line = next(stream.lines)
        assert line in ("", ": heartbeat"), line
        heartbeats += line == ": heartbeat"
    stack.post(f"/api/v0/tasks/{task_id}/stop")
    rest = stream.until_end()
    stream.close()
    assert json.loads(rest[-2]["data"])["status"] == "STOPPED" and rest[-1]["event"] == "end"


def test_waiting_requests_are_bounded_per_worker_with_a_clear_503(stack):
    task_id = waiting_task(stack)
    streams = [Events(stack, task_id) for _ in range(SLOTS)]
    for s in streams:
        assert s.response.status_code == 200 and s.next()["event"] == "status"
    full = stack.get(f"/api/v0/tasks/{task_id}/events")
    assert full.status_code == 503 and full.headers["Retry-After"] == "5"
    assert "waiting requests" in full.json()["msg"]
    etag = stack.get(f"/api/v0/tasks/{task_id}").headers["ETag"]  # short requests still answer
    waiting = stack.get(f"/api/v0/tasks/{task_id}", params={"wait": 5}, headers={"If-None-Match": etag})
    assert waiting.status_code == 503
    streams[0].close()  # the server sees it at its next heartbeat and gives the slot back
    deadline = time.monotonic() + 20
    while (again := Events(stack, task_id)).response.status_code == 503:
        assert time.monotonic() < deadline, "a closed stream never gave its slot back"
        time.sleep(0.3)
    assert again.next()["event"] == "status"
    for s in [again, *streams[1:]]:
        s.close()
    stack.post(f"/api/v0/tasks/{task_id}/stop")


@pytest.mark.parametrize("last_event_id", ["yesterday", "1.2.3", "-1.0"])
def test_a_bad_last_event_id_answers_400_naming_it(stack, last_event_id):
    task_id = waiting_task(stack)
    r = stack.get(f"/api/v0/tasks/{task_id}/events", headers={"Last-Event-ID": last_event_id})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "Last-Event-ID", r.text
    assert stack.get("/api/v0/tasks/NO-SUCH-TASK/events").status_code == 404
    stack.post(f"/api/v0/tasks/{task_id}/stop")


def _light_position_becomes(stack, task_id: str, expected: int) -> None:
    deadline = time.monotonic() + 10  # the light view's snapshot is at most 1 s old
    while (seen := stack.get(f"/api/v0/tasks/{task_id}").json()["queue_position"]) != expected:
        assert time.monotonic() < deadline, (task_id, seen, expected)
        time.sleep(0.2)


def test_the_light_views_queue_position_follows_the_queue_within_a_second(stack):
    first, second = waiting_task(stack), waiting_task(stack)
    assert stack.task(first)["queue_position"] == 1  # the full view counts exactly
    assert stack.task(second)["queue_position"] == 2
    # A task an earlier test stopped may linger in a snapshot taken before the stop.
    _light_position_becomes(stack, first, 1)
    _light_position_becomes(stack, second, 2)
    stack.post(f"/api/v0/tasks/{first}/stop")
    assert stack.task(second)["queue_position"] == 1
    _light_position_becomes(stack, second, 1)
    stack.post(f"/api/v0/tasks/{second}/stop")
    # A result column may hold JSON null rather than SQL NULL (the ORM writes None so): the
    # light view's headline query answered 500 on PostgreSQL ("jsonb_each on a non-object").
    engine = sqlalchemy.create_engine(stack.env["TRAINYARD_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE tasks SET result = 'null'::jsonb WHERE id = :id"), {"id": first})
    engine.dispose()
    stopped = stack.get(f"/api/v0/tasks/{first}")
    assert stopped.status_code == 200 and stopped.json()["status"] == "STOPPED", stopped.text
