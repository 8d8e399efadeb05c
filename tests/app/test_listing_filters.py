"""The listing's dataset and parent filters (the dashboard's dataset filter and lineage), on
SQLite (the embedded default) and PostgreSQL (the test database server)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from dao.tables import Base
from dao.task_listing import TaskFilter, list_tasks
from tests.service.stack import PG_ADMIN


def _form(train: list[str], test: list[str]) -> dict:
    return {"train_data": train, "val_data": train, "test_data": test, "param_set": {}}


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request, tmp_path):
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'listing.db'}")
        drop = None
    else:
        name = f"trainyard_test_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        drop = name
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()
    if drop:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')


def _add(session: Session, task_id: str, form: dict, parent: str | None = None) -> None:
    from dao.task_queries import insert_new_task

    insert_new_task(session, id=task_id, proj_id="P", proj_name="P", task_name=task_id, task_type="dl_ts",
                    model="SGN", backend="torch", queue="q", form=form, parent_task_id=parent)


def test_dataset_and_parent_filters(session):
    _add(session, "T1", _form(["A_1"], ["B"]))
    _add(session, "T2", _form(["A"], []), parent="T1")
    _add(session, "T3", _form(["C"], ["A"]), parent="T1")
    _add(session, "T4", _form(["AX"], []))
    session.flush()
    ids = lambda **f: sorted(t.id for t in list_tasks(session, TaskFilter(**f)).tasks)  # noqa: E731
    assert ids(dataset="A") == ["T2", "T3"]  # any role; "A_1" is another name
    assert ids(dataset="B") == ["T1"]
    assert ids(dataset="A_") == []  # no partial names, no LIKE wildcards
    assert ids(dataset="A_1") == ["T1"]
    assert ids(parent="T1") == ["T2", "T3"]
    assert ids(parent="T1", dataset="C") == ["T3"]
