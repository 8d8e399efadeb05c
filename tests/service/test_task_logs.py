"""A task's log on a real stack: followed live over server-sent events until the task ends,
paged with a cursor, kept across a SIGKILL of its worker, every line tagged with its attempt."""

from __future__ import annotations

import json
import signal

import pytest
import requests

from tests.service.forms import form

pytestmark = pytest.mark.slow


def _events(response: requests.Response):
    """(event, data, id) for each server-sent event of a streamed response."""
    event, data, event_id = "message", [], None
    for raw in response.iter_lines(decode_unicode=True):
        if raw == "":
            if data:
                yield event, "\n".join(data), event_id
            event, data, event_id = "message", [], None
        elif raw.startswith("event:"):
            event = raw[6:].strip()
        elif raw.startswith("data:"):
            data.append(raw[5:].strip())
        elif raw.startswith("id:"):
            event_id = raw[3:].strip()


def _all_lines(stack, task_id: str) -> list[dict]:
    lines, cursor = [], 0
    while True:
        page = stack.get(f"/api/v0/tasks/{task_id}/logs", params={"cursor": cursor, "limit": 7}).json()
        lines += page["lines"]
        if not page["lines"]:
            return lines
        cursor = page["next_cursor"]


def test_follow_streams_lines_while_running_and_ends_with_the_task(stack):
    task_id = stack.submit(form(epochs=12, batch_size=1))
    seen, statuses_at_line, end = [], [], None
    for _ in range(20):  # one stream lasts TRAINYARD_LOG_FOLLOW_SECONDS; reconnect as EventSource does
        headers = {"Last-Event-ID": str(seen[-1]["seq"])} if seen else {}
        with stack.get(f"/api/v0/tasks/{task_id}/logs", params={"follow": 1},
                          headers=headers, stream=True, timeout=120) as r:
            if r.status_code == 204:
                break
            assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
            for event, data, event_id in _events(r):
                if event == "line":
                    line = json.loads(data)
                    assert int(event_id) == line["seq"]
                    seen.append(line)
                    if "epoch 1/12" in line["message"]:
                        statuses_at_line.append(stack.task(task_id)["status"])
                elif event == "end":
                    end = json.loads(data)
        if end is not None:
            break
    assert statuses_at_line == ["RUNNING"], "the first epoch's line arrived only after the task ended"
    assert end == {"task_id": task_id, "status": "SUCCEEDED"}
    messages = [line["message"] for line in seen]
    epochs = [int(m.split()[1].split("/")[0]) for m in messages if m.startswith("epoch ")]
    assert epochs == list(range(1, 13)), messages
    assert any(m.startswith("finished as SUCCEEDED") for m in messages), messages
    assert [line["seq"] for line in seen] == sorted({line["seq"] for line in seen})
    assert {line["attempt"] for line in seen} == {1}
    assert _all_lines(stack, task_id) == seen, "paging with the cursor gives the streamed lines"
    again = stack.get(f"/api/v0/tasks/{task_id}/logs", params={"follow": 1},
                      headers={"Last-Event-ID": str(seen[-1]["seq"])})
    assert again.status_code == 204, "an EventSource reconnecting after the end is told to stop"


def test_lines_of_a_sigkilled_attempt_stay_readable(stack):
    task_id = stack.submit(form(epochs=40, batch_size=1))
    stack.wait_task(task_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 3)
    stack.signal("w0", signal.SIGKILL)
    first = _all_lines(stack, task_id)
    epoch_lines = [line for line in first if line["message"].startswith("epoch ")]
    assert len(epoch_lines) >= 3 and {line["attempt"] for line in first} == {1}
    stack.start_worker("w0")
    done = stack.wait_task(task_id, timeout=240)
    assert done["status"] == "SUCCEEDED" and done["attempt"] == 2, done
    lines = _all_lines(stack, task_id)
    assert lines[:len(first)] == first, "the killed attempt's lines are kept as they were"
    second = stack.get(f"/api/v0/tasks/{task_id}/logs", params={"attempt": 2, "limit": 1000}).json()["lines"]
    assert second and {line["attempt"] for line in second} == {2}
    assert any(line["message"].startswith("resuming after epoch") for line in second)
    assert "task %s attempt 2: epoch" % task_id in stack.log("w0"), "the worker's own log names the attempt"


@pytest.mark.parametrize("query, field", [({"cursor": "x"}, "cursor"), ({"limit": "0"}, "limit"),
                                          ({"follow": "maybe"}, "follow"), ({"attempt": "-1"}, "attempt")])
def test_bad_log_queries_answer_400_naming_the_field(stack, query, field):
    r = stack.get("/api/v0/tasks/TASK-none/logs", params=query)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["field"] == field


def test_logs_of_an_unknown_task_are_404(stack):
    assert stack.get("/api/v0/tasks/TASK-none/logs").status_code == 404


def test_a_failure_leaves_its_traceback_in_the_log(stack):
    """A task the API would have refused (its dataset does not exist), put straight into the
    database: the reaper dispatches it and the worker fails it."""
    from dao import task_queries
    from dao.db import session_scope

    bad = form(train_data=["NO_SUCH_DATASET"], val_data=["NO_SUCH_DATASET"], test_data=["NO_SUCH_DATASET"])
    with session_scope() as s:
        task_id = task_queries.insert_new_task(
            s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN", backend="torch",
            queue=stack.queue, form=bad, status="QUEUED", attempt=1, epochs_total=1)
    done = stack.wait_task(task_id, timeout=120)
    assert done["status"] == "FAILED", done
    (failure,) = [line for line in _all_lines(stack, task_id) if line["level"] == "ERROR"]
    assert failure["message"].startswith("failed\nTraceback (most recent call last):")
    assert "NO_SUCH_DATASET" in failure["message"] and failure["attempt"] == 1
