"""Engine and session factory. Query functions elsewhere in ``dao/`` take a session and
never commit; the caller owns the transaction through ``session_scope()``."""

from __future__ import annotations

import contextlib
import functools
import select
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from contracts.settings import get_settings

T = TypeVar("T")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001 - DB-API connection
        cur = dbapi_conn.cursor()
        # WAL lets the API read while a worker writes; busy_timeout waits out short locks.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def engine_for(url: str) -> Engine:
    if url not in _engines:
        _engines[url] = _create(url)
        _factories[url] = sessionmaker(bind=_engines[url], expire_on_commit=False)
    return _engines[url]


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    settings = get_settings()
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_timeout=settings.db_pool_timeout_seconds,
                           connect_args=_postgres_timeouts(settings))
    event.listen(engine, "checkout", _refuse_if_closed_by_server)
    _watch_calls(engine, settings)
    return engine


def _watch_calls(engine: Engine, settings) -> None:  # noqa: ANN001 - contracts.settings.Settings
    """Give the engine's connections a client-side deadline (dao.db_watchdog): a call with no
    answer for ``db_query_deadline_seconds`` whose server accepts no new connection either, or
    one past the statement timeout by as much, has its connection cut (OperationalError, 503)."""
    deadline = settings.db_query_deadline_seconds
    if not deadline or engine.dialect.driver != "psycopg":
        return
    import psycopg

    from dao import db_watchdog

    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    probe_params = {**cparams, **_postgres_timeouts(settings), "application_name": "trainyard-db-probe"}
    watch = db_watchdog.Watch(deadline, settings.db_statement_timeout_seconds + deadline,
                              lambda: psycopg.connect(*cargs, **probe_params))

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, connect_cargs, connect_cparams):  # noqa: ANN001, ANN202
        return db_watchdog.connect(watch, *connect_cargs, **connect_cparams)


def _refuse_if_closed_by_server(dbapi_connection, _record, _proxy) -> None:  # noqa: ANN001
    """Pessimistic disconnect handling without pool_pre_ping's round trip (a SELECT 1 per
    checkout, about a fifth of a submission's CPU): an idle pooled connection has nothing to
    read unless the server closed it (a restart, a terminated backend) or sent its last error,
    so a readable socket means dead. SQLAlchemy's pool then opens a fresh connection (it retries
    a checkout refused with DisconnectionError). A server that went silent (paused, partitioned)
    is caught by the connection's own timeouts, as it was with the ping."""
    try:
        readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
    except Exception as exc:  # noqa: BLE001 - psycopg's closed connection, a bad descriptor
        raise DisconnectionError(f"the pooled connection is unusable: {exc}") from exc
    if readable or dbapi_connection.closed:
        raise DisconnectionError("the server closed the pooled connection")


def _postgres_timeouts(settings) -> dict:  # noqa: ANN001 - contracts.settings.Settings
    """libpq parameters bounding every wait: the connect; a statement (server side); and, on an
    open connection whose packets vanish (a partition), unacknowledged data (tcp_user_timeout)
    and an idle line (keepalives), which otherwise block a read for the kernel's ~15 minutes."""
    tcp = settings.db_tcp_timeout_seconds
    return {"connect_timeout": settings.db_connect_timeout_seconds,
            "options": f"-c statement_timeout={int(settings.db_statement_timeout_seconds * 1000)}",
            "tcp_user_timeout": int(tcp * 1000), "keepalives": 1,
            "keepalives_idle": max(1, int(tcp / 3)), "keepalives_interval": max(1, int(tcp / 6)),
            "keepalives_count": 3}


def get_engine() -> Engine:
    return engine_for(get_settings().resolved_database_url())


def new_session() -> Session:
    url = get_settings().resolved_database_url()
    engine_for(url)
    return _factories[url]()


_open = threading.local()


def in_session_scope() -> bool:
    """True inside a ``session_scope()`` of this thread (its transaction may hold locks)."""
    return getattr(_open, "depth", 0) > 0


@contextlib.contextmanager
def session_scope() -> Iterator[Session]:
    """A session whose transaction commits when the block ends and rolls back on error."""
    session = new_session()
    _open.depth = getattr(_open, "depth", 0) + 1
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _open.depth -= 1
        session.close()


_read_engines: dict[str, Engine] = {}


def _read_engine() -> Engine:
    """For reads that need no transaction (the status poll): autocommit, so no BEGIN and no
    ROLLBACK round trip, and no pre-ping round trip at checkout (``read`` retries once instead
    when the connection turns out dead). A small pool of its own beside the main one."""
    url = get_settings().resolved_database_url()
    if url.startswith("sqlite"):
        return engine_for(url)
    if url not in _read_engines:
        settings = get_settings()
        _read_engines[url] = create_engine(
            url, isolation_level="AUTOCOMMIT", pool_size=4, max_overflow=8,
            pool_timeout=settings.db_pool_timeout_seconds, connect_args=_postgres_timeouts(settings))
        _watch_calls(_read_engines[url], settings)
    return _read_engines[url]


def read(work: Callable[[Connection], T]) -> T:
    """``work(connection)`` on an autocommit connection; once more on a fresh connection when
    the first was found dead (the database restarted since it was pooled)."""
    try:
        with _read_engine().connect() as conn:
            return work(conn)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    with _read_engine().connect() as conn:
        return work(conn)


def plain_rows(conn: Connection, stmt: Executable, params: dict[str, Any]) -> list[Any]:
    """The rows of a prebuilt SELECT, as named tuples, for a hot read path. On PostgreSQL the
    statement runs on the driver's own cursor with its SQL compiled once: SQLAlchemy's result
    machinery costs as much CPU as the query itself there, and psycopg already returns
    datetimes and JSONB as Python values. Elsewhere (SQLite) through SQLAlchemy as usual."""
    if conn.dialect.name != "postgresql":
        return list(conn.execute(stmt, params))
    import psycopg
    from psycopg.rows import namedtuple_row

    sql, defaults = _pg_compiled(stmt, conn.dialect)
    try:
        with conn.connection.driver_connection.cursor(row_factory=namedtuple_row) as cur:
            return cur.execute(sql, {**defaults, **params}).fetchall()
    except psycopg.Error as exc:
        raise _as_sqlalchemy_error(conn, exc, psycopg.Error, sql, params) from exc


def _as_sqlalchemy_error(conn: Connection, exc: Exception, driver_base: type[Exception], sql: str,
                         params: dict[str, Any]) -> DBAPIError:
    """The driver's error as SQLAlchemy would have raised it: the API maps OperationalError to
    503 and ``read`` retries a connection found dead, neither of which sees psycopg's own
    classes. A dead connection is invalidated here so the pool does not hand it out again."""
    dead = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
    if dead:
        conn.invalidate(exc)
    return DBAPIError.instance(sql, params, exc, driver_base, connection_invalidated=dead,
                               dialect=conn.dialect)


@functools.lru_cache(maxsize=32)
def _pg_compiled(stmt: Executable, dialect) -> tuple[str, dict[str, Any]]:  # noqa: ANN001 - a Dialect
    compiled = stmt.compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


def poll_cache():  # noqa: ANN201 - a dao.poll_cache.PollCache or None
    """This process's cache of light poll views for the configured database (None on SQLite)."""
    from dao import poll_cache as pc

    settings = get_settings()
    return pc.for_database(settings.resolved_database_url(), lambda: _postgres_timeouts(settings))


def task_write_heard(task_id: str) -> contextlib.AbstractContextManager[None]:
    """Wrap a change to a task made for a client (a stop): see dao.poll_cache.PollCache.write_heard."""
    cache = poll_cache()
    return contextlib.nullcontext() if cache is None else cache.write_heard(task_id, _fence)


def _fence(channel: str, payload: str) -> int:
    """Notify every poll-cache listener of this database; how many listened just before (each
    answers it; one that starts in between answers too, which does no harm)."""
    from dao.poll_cache import APPLICATION_NAME

    def work(conn: Connection) -> int:
        listeners = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,)).scalar_one()
        conn.exec_driver_sql("SELECT pg_notify(%s, %s)", (channel, payload))
        return int(listeners)

    return read(work)


def reset_engines() -> None:
    """Dispose and forget every engine (tests that switch databases; processes after fork)."""
    from dao import poll_cache as pc

    pc.close_all()
    for engine in [*_engines.values(), *_read_engines.values()]:
        engine.dispose()
    _engines.clear()
    _read_engines.clear()
    _factories.clear()
