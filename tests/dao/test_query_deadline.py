"""The client-side deadline on database calls (dao.db_watchdog, issue 27), against the local
PostgreSQL behind a TCP relay of the test's own that can go silent: it keeps its sockets open
(the kernel still acknowledges packets) but passes nothing on, as a server paused with SIGSTOP
does. A call on a silent server fails fast with OperationalError (the API's 503) and the pool
drops its connection; a long query on a server that answers is left to finish."""

from __future__ import annotations

import select
import socket
import threading
import time
import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from contracts.settings import reset_settings
from dao import db
from tests.service.stack import PG_ADMIN

DEADLINE = 1.0
CONNECT_TIMEOUT = 2  # libpq's minimum
# Only bounds a hang: uncut, a call waits for the server's statement timeout (300 s), so anything
# well under it tells a cut call from one left waiting, however loaded the machine.
HANG_BOUND = 60.0


class SilentableRelay:
    """127.0.0.1:<port> relayed to the local PostgreSQL; ``silent`` stops relaying, both ways."""

    def __init__(self):
        self.silent = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", 5432))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        while not self._stop:
            if self.silent.is_set():
                time.sleep(0.02)
                continue
            try:
                ready, _, _ = select.select([a, b], [], [], 0.05)
                for s in ready:
                    if self.silent.is_set():
                        break
                    data = s.recv(65536)
                    if not data:
                        return
                    peer[s].sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._stop = True
        for s in [self._server, *self._sockets]:
            s.close()


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture()
def relayed(monkeypatch):
    name = f"trainyard_test_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    relay = SilentableRelay()
    monkeypatch.setenv("TRAINYARD_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{relay.port}/{name}")
    monkeypatch.setenv("TRAINYARD_DB_QUERY_DEADLINE_SECONDS", str(DEADLINE))
    monkeypatch.setenv("TRAINYARD_DB_CONNECT_TIMEOUT_SECONDS", str(CONNECT_TIMEOUT))
    reset_settings()
    db.reset_engines()
    yield relay
    relay.silent.clear()
    db.reset_engines()
    relay.close()
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    monkeypatch.delenv("TRAINYARD_DATABASE_URL")
    reset_settings()


def _scalar(sql: str):  # noqa: ANN202
    with db.session_scope() as session:
        return session.execute(text(sql)).scalar_one()


def _outcome_within(seconds: float, call) -> BaseException | object:  # noqa: ANN001
    """What ``call()`` returned or raised, failing the test (rather than hanging it) past ``seconds``."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert outcome, f"still waiting after {seconds} s"
    return outcome[0]


def test_a_call_on_a_silent_server_fails_fast_and_its_connection_is_dropped(relayed):
    assert _scalar("SELECT 1") == 1  # a pooled connection, as a request finds it
    relayed.silent.set()
    started = time.monotonic()
    raised = _outcome_within(HANG_BOUND, lambda: _scalar("SELECT 2"))
    assert isinstance(raised, OperationalError), raised
    assert time.monotonic() - started >= DEADLINE
    assert raised.connection_invalidated
    relayed.silent.clear()
    assert _scalar("SELECT 3") == 3  # a fresh connection once the server is back


def test_the_poll_read_path_on_a_silent_server_fails_fast_too(relayed):
    from sqlalchemy import literal_column, select

    one = select(literal_column("1").label("one"))
    assert db.read(lambda conn: db.plain_rows(conn, one, {}))[0].one == 1
    relayed.silent.set()
    raised = _outcome_within(HANG_BOUND, lambda: db.read(lambda conn: db.plain_rows(conn, one, {})))
    assert isinstance(raised, OperationalError), raised


def test_a_long_query_on_a_server_that_answers_is_not_cut(relayed):
    assert _scalar(f"SELECT 7 FROM pg_sleep({DEADLINE * 3})") == 7


def test_off_when_the_deadline_is_zero(relayed, monkeypatch):
    monkeypatch.setenv("TRAINYARD_DB_QUERY_DEADLINE_SECONDS", "0")
    reset_settings()
    db.reset_engines()
    assert _scalar("SELECT 1") == 1
    relayed.silent.set()
    outcome: list = []
    t = threading.Thread(target=lambda: outcome.append(_scalar("SELECT 2")), daemon=True)
    t.start()
    t.join(DEADLINE + CONNECT_TIMEOUT + 2)
    assert t.is_alive() and not outcome  # still waiting: nothing cut it
    relayed.silent.clear()
    t.join(10)
    assert outcome == [2]


def test_a_call_past_the_statement_timeout_by_the_deadline_is_cut_even_on_a_server_that_answers(relayed, monkeypatch):
    monkeypatch.setenv("TRAINYARD_DB_STATEMENT_TIMEOUT_SECONDS", "1")
    reset_settings()
    db.reset_engines()
    with pytest.raises(OperationalError) as raised, db.session_scope() as session:
        session.execute(text("SET LOCAL statement_timeout = 0"))  # the server will not cancel it
        session.execute(text("SELECT pg_sleep(30)"))  # uncut, it would end normally
    assert raised.value.connection_invalidated
