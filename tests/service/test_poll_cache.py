"""The light poll keeps a task's view per API process until PostgreSQL notifies that the task
changed (dao.poll_cache): an unchanged task is answered without reading it, yet no poll answers
from before a change that was committed before it arrived, whichever gunicorn worker serves it,
and a lost listener means reading again, never a stale view."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from dao.poll_cache import ACK, APPLICATION_NAME, FENCE
from tests.service.forms import form
from tests.service.metrics_scrape import value
from tests.service.stack import PG_ADMIN, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack():
    with running_stack(workers=0, reaper=False, env={"TRAINYARD_GUNICORN_WORKERS": "2"}) as s:
        yield s


def _sql(stack, statement: str, *params) -> list:  # noqa: ANN001
    url = stack.env["TRAINYARD_DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, list(params))
        return cur.fetchall() if cur.description else []


def _kept(stack) -> float:  # noqa: ANN001
    return value(stack.url + "/metrics", "trainyard_poll_views_total", source="kept")


def _listeners(stack) -> int:  # noqa: ANN001
    return len(_admin("SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                      stack.db_name, APPLICATION_NAME))


def _admin(statement: str, *params) -> list:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        cur = conn.execute(statement, list(params))
        return cur.fetchall() if cur.description else []


def _wait_listening(stack, count: int = 2, timeout: float = 30) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while _listeners(stack) < count:
        assert time.monotonic() < deadline, f"{_listeners(stack)} poll listeners, expected {count}"
        stack.get("/api/v0/tasks/TASK_NONE")  # a poll starts its process's listener
        time.sleep(0.1)


def _waiting_task(stack) -> str:  # noqa: ANN001
    """QUEUED for good (no worker runs here): it changes only when the test changes it."""
    return stack.submit(form(epochs=1))


def test_an_unchanged_task_is_answered_from_what_was_kept(stack):
    task_id = _waiting_task(stack)
    _wait_listening(stack)
    first = stack.get(f"/api/v0/tasks/{task_id}").json()
    before = _kept(stack)
    for _ in range(20):
        assert stack.get(f"/api/v0/tasks/{task_id}").json() == first
    assert _kept(stack) - before >= 10  # two processes, each reads the task once at most


def _heard_by_every_listener(stack, listeners: int = 2, timeout: float = 30) -> None:  # noqa: ANN001
    """Until every API process's listener has applied every notice committed before now: the
    fence a stop uses (dao.poll_cache.write_heard), sent from here. PostgreSQL delivers notices
    in commit order, and a listener answers the fence on ACK only after applying the notices
    taken with it. The deadline only bounds a hang."""
    url = stack.env["TRAINYARD_DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
    token = f"test-{uuid.uuid4().hex}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"LISTEN {ACK}")
        conn.execute("SELECT pg_notify(%s, %s)", [FENCE, token])
        answers, deadline = 0, time.monotonic() + timeout
        while answers < listeners:
            assert time.monotonic() < deadline, f"{answers} of {listeners} listeners answered the fence"
            answers += sum(n.payload == token for n in conn.notifies(timeout=1.0))


def test_a_change_made_outside_the_api_shows_as_soon_as_its_notice_arrives(stack):
    """As a worker writes: straight into the database, from another connection. Each round
    primes both API processes, changes the row, waits until both listeners have heard every
    notice committed so far, and then the very next polls (either process) show the change:
    not the view kept from before (it would live on for TTL_SECONDS)."""
    task_id = _waiting_task(stack)
    _wait_listening(stack)
    for i in range(30):
        for _ in range(4):
            stack.get(f"/api/v0/tasks/{task_id}")
        _sql(stack, "UPDATE tasks SET waiting_reason = %s WHERE id = %s", f"reason {i}", task_id)
        _heard_by_every_listener(stack)
        for _ in range(4):
            assert stack.get(f"/api/v0/tasks/{task_id}").json()["waiting_reason"] == f"reason {i}"


def test_a_stop_through_the_api_shows_in_the_very_next_poll_of_any_process(stack):
    for _ in range(10):
        task_id = _waiting_task(stack)
        _wait_listening(stack)
        for _ in range(4):
            assert stack.get(f"/api/v0/tasks/{task_id}").json()["status"] == "QUEUED"
        assert stack.post(f"/api/v0/tasks/{task_id}/stop").json()["status"] == "STOPPED"
        for _ in range(4):
            assert stack.get(f"/api/v0/tasks/{task_id}").json()["status"] == "STOPPED"


def test_a_new_epoch_shows_in_the_very_next_poll(stack):
    """The epoch row alone (written after the task row's count, as a slow writer might) is
    enough to drop the kept view: once its notice is heard, the next polls show the new epoch."""
    task_id = _waiting_task(stack)
    _wait_listening(stack)
    _sql(stack, "UPDATE tasks SET status = 'RUNNING', started_at = now() WHERE id = %s", task_id)
    try:
        for epoch in (1, 2, 3):
            _sql(stack, "UPDATE tasks SET epochs_done = %s WHERE id = %s", epoch, task_id)
            for _ in range(4):
                stack.get(f"/api/v0/tasks/{task_id}")
            _sql(stack, "INSERT INTO task_epochs (task_id, attempt, epoch, metrics, created_at) "
                        "VALUES (%s, 1, %s, %s, now())", task_id, epoch, f'{{"epoch": {epoch}, "train_loss": 0.5}}')
            _heard_by_every_listener(stack)
            for _ in range(4):
                latest = stack.get(f"/api/v0/tasks/{task_id}").json()["latest_epoch"] or {}
                assert latest.get("epoch") == epoch, (epoch, latest)
    finally:  # no worker holds it: end it here, as the clean-up expects
        _sql(stack, "UPDATE tasks SET status = 'STOPPED', finished_at = now() WHERE id = %s", task_id)


def test_a_lost_listener_means_reading_again_and_it_comes_back(stack):
    task_id = _waiting_task(stack)
    _wait_listening(stack)
    stack.get(f"/api/v0/tasks/{task_id}")
    lost = [pid for (pid,) in _admin("SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                                     stack.db_name, APPLICATION_NAME)]
    _admin("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", lost)
    # Changed while no process listens (the terminated backends are gone): nothing tells them;
    # they must not answer what they kept.
    deadline = time.monotonic() + 30  # bounds a hang only
    while _admin("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", lost):
        assert time.monotonic() < deadline, f"terminated listener backends {lost} still there"
        time.sleep(0.01)
    _sql(stack, "UPDATE tasks SET waiting_reason = 'changed unheard' WHERE id = %s", task_id)
    for _ in range(6):
        assert stack.get(f"/api/v0/tasks/{task_id}").json()["waiting_reason"] == "changed unheard"
    _wait_listening(stack)
    before = _kept(stack)
    for _ in range(10):
        stack.get(f"/api/v0/tasks/{task_id}")
    assert _kept(stack) > before
