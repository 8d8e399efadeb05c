"""Light poll views kept per API process until PostgreSQL says their task changed.

Migration 0108 makes every change to what the light view shows of a task (a column it reads, or
an epoch row) ``NOTIFY trainyard_task_changed`` with the task id. Each API process ``LISTEN``s on a connection of its own (a daemon thread) and
drops the view of every task named, so a poll reads the database only when the task changed
since it was last read here: most polls ask about tasks that did not.

What keeps a view from going stale:
- Nothing is kept unless the listener is listening, and everything is dropped when its
  connection is lost (it may have missed notices), before it listens again.
- The listener notifies itself every HEARTBEAT_SECONDS on a channel of its own; silence for
  LOST_AFTER_SECONDS counts as a lost connection (a half-open TCP link raises nothing).
- A view read while a notice for its task arrived is not kept: ``ticket`` (before the read) and
  ``put`` (after) compare a counter of notices per stripe of task ids.
- No view is handed out while a notice waits unread on the listener's socket or is being
  applied; a stop made through the API answers only once every listening API process has heard
  every notice committed before it (``write_heard``: a fence each listener answers), so the
  client that stopped a task sees it stopped in its next poll, whichever process answers it.
- A change written elsewhere (a worker's epoch) reaches polls once PostgreSQL has delivered its
  notice: normally within a millisecond, a little later on a loaded database host.
- Views also expire after TTL_SECONDS, and at most MAX_ENTRIES are kept.
SQLite has no NOTIFY: there ``for_database`` gives None and the poll always reads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

CHANNEL = "trainyard_task_changed"  # migration 0108's trigger function names it too
FENCE = "trainyard_poll_fence"  # a stop's fence: every listener answers it on ACK once it heard it
ACK = "trainyard_poll_fence_ack"
HEARTBEAT_SECONDS = 1.0
LOST_AFTER_SECONDS = 3.0
RETRY_SECONDS = 1.0
TTL_SECONDS = 60.0
MAX_ENTRIES = 20_000
STRIPES = 256
HEAR_OWN_WRITE_SECONDS = 2.0
APPLICATION_NAME = "trainyard-poll-listener"  # what pg_stat_activity shows for the listener

log = logging.getLogger("trainyard.poll_cache")
Ticket = tuple[int, int]  # (listener generation, notices seen in the task's stripe)


class PollCache:
    """``get`` a kept view; on a miss take a ``ticket``, read, then ``put`` the view with it."""

    def __init__(self, dsn: str, connect_args: dict[str, Any]):
        self._dsn = dsn
        self._connect_args = connect_args
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._notices = [0] * STRIPES
        self._generation = 0
        self._listening = False
        self._closed = False
        self._pid: int | None = None
        self._fd: int | None = None
        self._busy = False
        self._heard = 0.0
        self._fences: dict[str, _Fence] = {}  # this process's fences waiting for their answers
        self._acks_due: list[str] = []  # fences heard, to answer on the listener's connection
        self._beat: str | None = None  # the listener's own channel

    # ------------------------------------------------------------ the poll's side

    def get(self, task_id: str) -> Any | None:
        self._ensure_listener()
        now = time.monotonic()
        if not self._caught_up():
            return None
        with self._lock:
            entry = self._entries.get(task_id) if self._listening else None
            if entry is None:
                return None
            if now - entry[0] >= TTL_SECONDS:
                del self._entries[task_id]
                return None
            self._entries.move_to_end(task_id)
            return entry[1]

    def ticket(self, task_id: str) -> Ticket | None:
        """Taken before reading the task: None while nothing may be kept."""
        with self._lock:
            return (self._generation, self._notices[_stripe(task_id)]) if self._listening else None

    def put(self, task_id: str, ticket: Ticket | None, view: Any) -> None:
        """Keep ``view`` unless a notice that may concern the task came since ``ticket``."""
        with self._lock:
            if ticket != (self._generation, self._notices[_stripe(task_id)]) or not self._listening:
                return
            self._entries[task_id] = (time.monotonic(), view)
            self._entries.move_to_end(task_id)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    @contextlib.contextmanager
    def write_heard(self, task_id: str, fence: Callable[[str, str], int],
                    timeout: float = HEAR_OWN_WRITE_SECONDS) -> Iterator[None]:
        """Around a change to a task made for a client (a stop): when the block ends, every API
        process listening (this one included) keeps nothing of the task, having heard every
        notice committed before the block ended, so the client finds the change in its next
        poll whichever process answers it. ``fence(FENCE, token)`` notifies every listener after
        the write's commit and says how many listen; PostgreSQL delivers notices in commit
        order, so a listener that answers the token on ACK has applied the task's notice
        first. Waits at most ``timeout`` (a listener that is starting or lost answers nothing)."""
        try:
            yield
        finally:
            self._drop(task_id)
        if not self._listening:
            return
        token, waiting = uuid.uuid4().hex, _Fence()
        with self._lock:
            self._fences[token] = waiting
        try:
            waiting.expect(fence(FENCE, token))
            waiting.done.wait(timeout)
        finally:
            with self._lock:
                self._fences.pop(token, None)

    def close(self) -> None:
        self._closed = True
        self._forget_all()

    # ------------------------------------------------------------ the listener

    def _ensure_listener(self) -> None:
        if self._pid == os.getpid() or self._closed:
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()  # a forked child starts its own; the parent's state is void there
            self._listening = False
            self._entries.clear()
        threading.Thread(target=self._listen_forever, name="poll-cache-listener", daemon=True).start()

    def _listen_forever(self) -> None:
        while not self._closed:
            try:
                self._listen_once()
            except Exception as exc:  # noqa: BLE001 - any failure means notices may be missed
                log.info("poll cache: listener lost (%s); polls read the database until it is back",
                         str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self._forget_all()
            time.sleep(RETRY_SECONDS)

    def _listen_once(self) -> None:
        import psycopg

        beat = f"trainyard_poll_beat_{uuid.uuid4().hex}"
        with psycopg.connect(self._dsn, autocommit=True, application_name=APPLICATION_NAME,
                             **self._connect_args) as conn:
            # Notices that arrive while a statement runs reach the handler before it returns.
            conn.add_notify_handler(lambda n: self._on_notice(n.channel, n.payload, beat))
            with self._busy_while():
                for channel in (CHANNEL, beat, FENCE, ACK):
                    conn.execute(f"LISTEN {channel}")
            self._heard = time.monotonic()
            with self._lock:
                self._generation += 1
                self._fd = conn.pgconn.socket
                self._beat = beat
                self._listening = True
            next_beat = 0.0
            while not self._closed:
                if time.monotonic() >= next_beat:
                    with self._busy_while():
                        conn.execute("SELECT pg_notify(%s, '')", [beat])
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
                if time.monotonic() - self._heard > LOST_AFTER_SECONDS:
                    raise TimeoutError(f"no heartbeat for {LOST_AFTER_SECONDS:g} s")
                readable, _, _ = select.select([self._fd], [], [], max(0.0, next_beat - time.monotonic()))
                if readable:
                    self._take_notices(conn, beat)
                self._answer_fences(conn)

    def _take_notices(self, conn, beat: str) -> None:  # noqa: ANN001 - a psycopg Connection
        from psycopg import pq

        with self._busy_while():
            conn.pgconn.consume_input()
            if conn.pgconn.status != pq.ConnStatus.OK:  # the server went away
                raise ConnectionError("the listening connection is closed")
            while (notice := conn.pgconn.notifies()) is not None:
                self._on_notice(notice.relname.decode(), notice.extra.decode(), beat)

    def _on_notice(self, channel: str, payload: str, beat: str) -> None:
        if channel == beat:
            self._heard = time.monotonic()
        elif channel == FENCE:  # answered after the notices taken with it are applied
            with self._lock:
                self._acks_due.append(payload)
        elif channel == ACK:
            with self._lock:
                waiting = self._fences.get(payload)
            if waiting is not None:
                waiting.answered()
        else:
            self._drop(payload)

    def _answer_fences(self, conn) -> None:  # noqa: ANN001 - a psycopg Connection
        with self._lock:
            due, self._acks_due = self._acks_due, []
        for token in due:
            with self._busy_while():
                conn.execute("SELECT pg_notify(%s, %s)", [ACK, token])

    @contextlib.contextmanager
    def _busy_while(self) -> Iterator[None]:
        """Marks notices being taken off the connection: kept views are not handed out then."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    def _caught_up(self) -> bool:
        """True when every notice that reached this process has been applied: none waits on the
        socket and none is being taken off it (checked in that order, so one cannot slip by
        between the two). The views of tasks changed before a poll arrived are gone then."""
        if self._busy:
            return False
        try:
            readable, _, _ = select.select([self._fd], [], [], 0)
        except (OSError, ValueError, TypeError):
            return False
        return not readable and not self._busy

    def _drop(self, task_id: str) -> None:
        with self._lock:
            self._notices[_stripe(task_id)] += 1
            self._entries.pop(task_id, None)

    def _forget_all(self) -> None:
        with self._lock:
            self._listening = False
            self._generation += 1
            self._entries.clear()


class _Fence:
    """A stop's fence: done once as many listeners answered as listened when it was sent."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._answers, self._expected = 0, None

    def expect(self, listeners: int) -> None:
        with self._lock:
            self._expected = listeners
            self._check()

    def answered(self) -> None:
        with self._lock:
            self._answers += 1
            self._check()

    def _check(self) -> None:
        if self._expected is not None and self._answers >= self._expected:
            self.done.set()


def _stripe(task_id: str) -> int:
    return hash(task_id) % STRIPES


_caches: dict[str, PollCache] = {}
_caches_lock = threading.Lock()


def for_database(url: str, connect_args: Callable[[], dict[str, Any]]) -> PollCache | None:
    """The process's cache for the database at SQLAlchemy ``url``; None unless PostgreSQL.
    ``connect_args()`` (libpq parameters) is called once, when the cache is made."""
    if not url.startswith("postgresql"):
        return None
    cache = _caches.get(url)
    if cache is None:
        with _caches_lock:
            cache = _caches.get(url)
            if cache is None:
                from sqlalchemy.engine import make_url

                dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
                cache = _caches[url] = PollCache(dsn, connect_args())
    return cache


def close_all() -> None:
    """Stop every cache's listener (tests that switch databases; see dao.db.reset_engines)."""
    with _caches_lock:
        for cache in _caches.values():
            cache.close()
        _caches.clear()
