"""Engine and session factory. Query functions elsewhere in ``dao/`` take a session and
never commit; the caller owns the transaction through ``session_scope()``."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from dao.settings import get_settings


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
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         pool_timeout=settings.db_pool_timeout_seconds,
                         connect_args=_postgres_timeouts(settings))


def _postgres_timeouts(settings) -> dict:  # noqa: ANN001 - dao.settings.Settings
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


def reset_engines() -> None:
    """Dispose and forget every engine (tests that switch databases; processes after fork)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _factories.clear()
