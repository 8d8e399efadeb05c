"""The poll's read path (dao.db.read + plain_rows on psycopg's own cursor) on PostgreSQL: a pooled
connection the server has since closed is retried once on a fresh one, and a database that
refuses connections raises SQLAlchemy's OperationalError (which the API answers with 503), not
the driver's own error class (which it would answer with 500)."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from sqlalchemy import literal_column, select
from sqlalchemy.exc import OperationalError

from dao import db
from contracts.settings import reset_settings
from tests.service.stack import PG_ADMIN

ONE = select(literal_column("1").label("one"))


def _admin(sql: str, *args) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql, list(args))


@pytest.fixture()
def database(monkeypatch):
    name = f"trainyard_test_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("TRAINYARD_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    reset_settings()
    db.reset_engines()
    yield name
    db.reset_engines()
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    monkeypatch.delenv("TRAINYARD_DATABASE_URL")
    reset_settings()


def _drop_connections(name: str) -> None:
    """Terminate the database's other backends and wait until they are gone: a backend closes
    its socket when it exits, a moment after it is signalled."""
    _admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
           name)
    deadline = time.monotonic() + 30
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                           (name,)).fetchone()[0]:
            assert time.monotonic() < deadline, "terminated backends never went"
            time.sleep(0.01)


def _one() -> int:
    return db.read(lambda conn: db.plain_rows(conn, ONE, {}))[0].one


def test_a_connection_closed_by_the_server_is_retried_on_a_fresh_one(database):
    assert _one() == 1  # leaves one connection in the read pool
    _drop_connections(database)
    assert _one() == 1


def test_a_database_refusing_connections_raises_sqlalchemys_operational_error(database):
    assert _one() == 1
    _admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        _drop_connections(database)
        with pytest.raises(OperationalError):
            _one()
    finally:
        _admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


def test_a_pooled_write_connection_the_server_closed_is_replaced_at_checkout(database):
    """The main pool has no pre-ping round trip: its checkout refuses a connection whose socket
    the server closed, and the pool opens a fresh one; the unit of work never sees the dead one."""
    from sqlalchemy import text

    def backend() -> int:
        with db.session_scope() as session:
            return session.execute(text("SELECT pg_backend_pid()")).scalar_one()

    first = backend()
    assert backend() == first  # the pool hands the same connection back
    _drop_connections(database)
    replaced = backend()
    assert replaced != first
