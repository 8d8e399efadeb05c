"""A client-side deadline on the PostgreSQL calls of ``dao.db``'s engines (issue 27).

A paused server (SIGSTOP, a hung host) leaves a connection's socket open and its packets
acknowledged by the kernel: neither tcp_user_timeout nor keepalives fire, and the statement
timeout is the server's own, so a query, commit or rollback would wait until gunicorn kills the
worker. Every blocking wait of psycopg goes through ``Connection.wait``; the engines' connections
are a subclass whose ``wait`` notes the connection as busy (a dict entry: no thread, timer or lock
per call) and one watchdog thread per process looks at the busy ones:

* one busy for ``deadline`` seconds makes it check that the server still answers: a fresh
  connection within the connect timeout. If it does, the call is left alone (a long legitimate
  query; the server's statement timeout bounds it) and checked again a deadline later. If it
  times out (the server is silent), every busy connection to that server is cut.
* one busy for ``hard_limit`` seconds (the statement timeout plus the deadline: the server
  should have cancelled it by then) is cut whatever the check says.

Cutting is ``shutdown(SHUT_RDWR)`` on a duplicate of the connection's socket: libpq's wait wakes
up, reads the end of the stream and psycopg raises OperationalError, which SQLAlchemy sees as a
disconnect (the pool drops the connection) and the API answers 503. Waits given a timeout of
their own (``notifies``) are not watched.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors

log = logging.getLogger(__name__)

_monotonic = time.monotonic
# connection -> (since, connection): an entry is replaced on each wait, so the watchdog can tell a
# call it judged from a later one by identity.
_busy: dict[Any, tuple[float, Any]] = {}


class Watch:
    """The deadlines of one engine's connections and how to check that its server answers."""

    def __init__(self, deadline: float, hard_limit: float, probe_connect: Callable[[], Any]):
        self.deadline = deadline
        self.hard_limit = max(hard_limit, deadline)
        self._probe_connect = probe_connect

    def server_answers(self) -> bool:
        """False when a fresh connection is not answered within the connect timeout (a server that
        is paused or unreachable); any other outcome, failures included, means it is not silent."""
        try:
            conn = self._probe_connect()
        except errors.ConnectionTimeout:
            return False
        except Exception:  # noqa: BLE001 - refused, too many clients...: the server is not silent
            return True
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass
        return True


class WatchedConnection(psycopg.Connection):
    """A psycopg connection whose blocking waits the watchdog can cut (``watch`` set after connect)."""

    watch: Watch | None = None

    def wait(self, gen, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201 - psycopg's signature
        if kwargs.get("timeout") is not None or self.watch is None:
            return super().wait(gen, *args, **kwargs)
        _busy[self] = (_monotonic(), self)
        try:
            return super().wait(gen, *args, **kwargs)
        finally:
            _busy.pop(self, None)


def connect(watch: Watch, *cargs: Any, **cparams: Any) -> WatchedConnection:
    """A watched connection (an engine's ``do_connect``); starts this process's watchdog."""
    conn = WatchedConnection.connect(*cargs, **cparams)
    conn.watch = watch
    _watchdog.ensure_started(watch.deadline)
    return conn


def cut(conn: Any, entry: tuple[float, Any]) -> bool:
    """Shut the socket of ``conn`` down if it is still in the wait ``entry`` noted; False if the
    wait ended first. The entry is checked again after duplicating the descriptor: a wait that
    ended may be followed by the connection's close and the number's reuse by another socket."""
    if _busy.get(conn) is not entry:
        return False
    try:
        fd = os.dup(conn.pgconn.socket)
    except Exception:  # noqa: BLE001 - closed meanwhile
        return False
    try:
        if _busy.get(conn) is not entry:
            return False
        with socket.socket(fileno=fd) as sock:
            fd = -1
            sock.shutdown(socket.SHUT_RDWR)
        return True
    except OSError:
        return False
    finally:
        if fd >= 0:
            os.close(fd)


class _Watchdog:
    def __init__(self):
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._period = 60.0
        self._recheck: dict[tuple[float, Any], float] = {}  # entry -> when to judge it again

    def ensure_started(self, deadline: float) -> None:
        with self._lock:
            self._period = min(self._period, max(deadline, 0.05))  # a wait noted later is due later
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._recheck = {}
            self._thread = threading.Thread(target=self._run, name="trainyard-db-watchdog", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                sleep = self.scan(_monotonic())
            except Exception:  # noqa: BLE001 - the watchdog must outlive any one surprise
                log.exception("database watchdog scan failed")
                sleep = self._period
            time.sleep(max(0.05, sleep))

    def scan(self, now: float) -> float:
        """Judge the busy connections; seconds until one may next be due."""
        due: dict[Watch, list[tuple[Any, tuple[float, Any]]]] = {}
        wake = now + self._period
        entries = list(_busy.items())
        live = set()
        for conn, entry in entries:
            watch = conn.watch
            since = entry[0]
            live.add(entry)
            if now - since >= watch.hard_limit:
                if cut(conn, entry):
                    log.error("a database call had no answer for %.0f s (over the statement timeout): "
                              "cutting its connection", now - since)
                continue
            judge_at = self._recheck.get(entry, since + watch.deadline)
            if now >= judge_at:
                due.setdefault(watch, []).append((conn, entry))
            else:
                wake = min(wake, judge_at)
        for entry in [e for e in self._recheck if e not in live]:
            del self._recheck[entry]
        for watch, overdue in due.items():
            if watch.server_answers():
                later = _monotonic() + watch.deadline
                for _conn, entry in overdue:
                    self._recheck[entry] = later
                wake = min(wake, later)
                continue
            # Silent: every call on this server waits in vain, not just the overdue ones.
            cuts = sum(cut(conn, entry) for conn, entry in list(_busy.items()) if conn.watch is watch)
            log.error("the database answered no call for %.0f s nor a new connection: cut %d connection(s)",
                      watch.deadline, cuts)
        return wake - _monotonic()


_watchdog = _Watchdog()


def _after_fork_in_child() -> None:
    global _watchdog
    _busy.clear()
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_after_fork_in_child)
