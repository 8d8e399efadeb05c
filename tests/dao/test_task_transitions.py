"""Each named compare-and-set of the dispatcher and the reaper writes only from the state it
expects, on PostgreSQL (the test database server)."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from dao import task_transitions as tt
from dao.tables import Base, Task, utcnow
from dao.task_queries import insert_new_task
from tests.service.stack import PG_ADMIN

BEAT = utcnow() - dt.timedelta(minutes=5)


@pytest.fixture()
def session():
    name = f"trainyard_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _task(session: Session, status: str = "QUEUED", published: bool = False, worker: str | None = None,
          heartbeat_at: dt.datetime | None = None) -> str:
    task_id = insert_new_task(session, proj_id="P", proj_name="P", task_name="t", task_type="dl_ts",
                              model="SGN", backend="torch", queue="q", form={}, status=status, attempt=1,
                              worker=worker, heartbeat_at=heartbeat_at,
                              published_at=utcnow() - dt.timedelta(minutes=5) if published else None)
    session.flush()
    return task_id


def _row(session: Session, task_id: str) -> Task:
    session.expire_all()
    return session.get(Task, task_id)


def test_unsent_task_transitions_refuse_a_sent_or_running_task(session):
    sent, running = _task(session, published=True), _task(session, "RUNNING", worker="w")
    for task_id in (sent, running):
        assert not tt.note_waiting(session, task_id, "why")
        assert not tt.mark_sent(session, task_id, "w2")
    assert _row(session, sent).waiting_reason is None and _row(session, running).worker == "w"
    unsent = _task(session)
    assert tt.mark_sent(session, unsent, None)
    assert not tt.mark_sent(session, unsent, None), "a second dispatcher loses"


def test_queued_task_transitions_refuse_a_task_that_left_the_queue(session):
    running = _task(session, "RUNNING", published=True, worker="w")
    assert not tt.unmark_sent(session, running)
    assert not tt.mark_republished(session, running)
    assert not tt.unplace_from_worker(session, running, "w")
    assert _row(session, running).worker == "w"
    placed = _task(session, published=True, worker="w")
    assert not tt.unplace_from_worker(session, placed, "other"), "placed on another worker"
    assert tt.unplace_from_worker(session, placed, "w")
    assert _row(session, placed).published_at is None


def test_unplace_from_queue_moves_only_old_unplaced_queued_tasks(session):
    old, placed = _task(session, published=True), _task(session, published=True, worker="w")
    fresh = insert_new_task(session, proj_id="P", proj_name="P", task_name="t", task_type="dl_ts", model="SGN",
                            backend="torch", queue="q", form={}, status="QUEUED", attempt=1, published_at=utcnow())
    _task(session, "RUNNING", published=True)
    assert tt.unplace_from_queue(session, "torch", "q", utcnow() - dt.timedelta(minutes=1)) == 1
    assert _row(session, old).published_at is None
    assert _row(session, placed).published_at is not None and _row(session, fresh).published_at is not None


def test_orphan_transitions_refuse_a_renewed_lease_or_another_state(session):
    running = _task(session, "RUNNING", worker="w", heartbeat_at=BEAT)
    renewed = BEAT + dt.timedelta(seconds=1)
    assert not tt.requeue_orphan(session, running, "RUNNING", renewed, 1), "the worker renewed its lease"
    assert not tt.fail_orphan(session, running, "STOPPING", BEAT, "lost"), "not STOPPING"
    assert not tt.stop_orphan(session, running, BEAT), "not STOPPING"
    assert _row(session, running).status == "RUNNING"
    assert tt.requeue_orphan(session, running, "RUNNING", BEAT, 1)
    row = _row(session, running)
    assert (row.status, row.attempt, row.worker, row.heartbeat_at) == ("QUEUED", 2, None, None)
    assert not tt.requeue_orphan(session, running, "RUNNING", BEAT, 1), "a second reaper loses"
    stopping = _task(session, "STOPPING", worker="w", heartbeat_at=BEAT)
    assert not tt.stop_orphan(session, stopping, renewed)
    assert tt.stop_orphan(session, stopping, BEAT) and _row(session, stopping).status == "STOPPED"
    assert not tt.fail_orphan(session, stopping, "STOPPING", BEAT, "lost")
