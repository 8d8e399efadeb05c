"""Logging on workers: every line names the task and attempt it belongs to, and what a task's
job logs is kept in the database (``GET /api/v0/tasks/<id>/logs``).

- ``task(task_id, attempt)`` says which task this worker process works on now. A worker runs
  one task at a time (solo pool), so it is process-wide and the lease thread's lines carry it too.
- ``TaskFilter``, on every handler, puts ``task_id``, ``attempt`` and ``task_tag`` on each record
  (one place, instead of a "task %s:" prefix in every message).
- ``TaskLogStore`` writes each record logged during an attempt as a row, one short transaction
  per line, so a SIGKILL keeps every line logged before it. Bounded per attempt: after
  ``TRAINYARD_TASK_LOG_MAX_LINES`` lines or ``TRAINYARD_TASK_LOG_MAX_KB`` one marker line says
  the rest is dropped; errors (a failure's traceback) still get a few lines past the limit.
  A failed write (database away) pauses storing for ``PAUSE_AFTER_FAILURE_SECONDS``: those
  lines are only in the worker's own log.
- ``TRAINYARD_LOG_FORMAT=json``: one JSON object per line instead of text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator

from celery import signals
from sqlalchemy.exc import IntegrityError

from dao import log_queries
from dao.db import in_session_scope, session_scope
from contracts.settings import get_settings
from dao.tables import utcnow

TEXT_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(task_tag)s%(message)s"
MAX_LINE_CHARS = 16000
PAUSE_AFTER_FAILURE_SECONDS = 10.0
ERROR_ALLOWANCE = 20  # error lines kept past the limit: the traceback of a failure matters most
_current: dict = {"task_id": None, "attempt": None}
_stores: list["TaskLogStore"] = []


@contextlib.contextmanager
def task(task_id: str, attempt: int | None = None) -> Iterator[None]:
    """Lines logged inside belong to this task (and, once known, this attempt)."""
    before = dict(_current)
    _current.update(task_id=task_id, attempt=attempt)
    try:
        yield
    finally:
        for store in _stores:
            store.flush_pending()
        _current.update(before)


def set_attempt(attempt: int) -> None:
    _current["attempt"] = attempt


class TaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        task_id = getattr(record, "task_id", None) or _current["task_id"]
        attempt = getattr(record, "attempt", None) or (_current["attempt"] if task_id == _current["task_id"] else None)
        record.task_id, record.attempt = task_id, attempt
        tag = f"task {task_id}" + (f" attempt {attempt}" if attempt else "") + ": " if task_id else ""
        record.task_tag = tag
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
               "message": record.getMessage(), "task_id": getattr(record, "task_id", None),
               "attempt": getattr(record, "attempt", None)}
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def formatter() -> logging.Formatter:
    if get_settings().log_format == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


class TaskLogStore(logging.Handler):
    """Stores the records of the current attempt; never raises, never logs (no recursion)."""

    def __init__(self, max_lines: int, max_bytes: int):
        super().__init__(logging.INFO)
        self.max_lines, self.max_bytes = max_lines, max_bytes
        self._key: tuple | None = None
        self._seq = self._lines = self._bytes = self._errors = 0
        self._full = False
        self._quiet_until = 0.0
        self._pending: deque = deque(maxlen=1000)
        self._write_lock = threading.Lock()
        self._busy = threading.local()
        self.setFormatter(logging.Formatter("%(message)s"))

    def handle(self, record: logging.LogRecord) -> bool:
        """Like Handler.handle without the handler lock: a thread inside a transaction must
        never wait for a thread whose write waits for that transaction (see ``emit``)."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        task_id, attempt = getattr(record, "task_id", None), getattr(record, "attempt", None)
        if not task_id or not attempt or getattr(self._busy, "on", False):
            return
        if in_session_scope():
            # This thread's open transaction may hold the locks our insert needs (SQLite's
            # write lock): writing now would wait for ourselves. The line goes out with the
            # next one logged outside a transaction, or when the attempt ends.
            self._pending.append((task_id, attempt, record))
            return
        self.flush_pending(record=(task_id, attempt, record))

    def flush_pending(self, record: tuple | None = None) -> None:
        if time.monotonic() < self._quiet_until or getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            with self._write_lock:
                while self._pending:
                    self._store(*self._pending.popleft())
                if record is not None:
                    self._store(*record)
        except Exception:  # noqa: BLE001 - a log line must never break the job
            # The database is away: stop trying for a while, or every line (the lease
            # thread's warnings first) would wait out a connect timeout.
            self._quiet_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
            self._pending.clear()
        finally:
            self._busy.on = False

    def _store(self, task_id: str, attempt: int, record: logging.LogRecord) -> None:
        if self._key != (task_id, attempt):
            self._key, self._seq, self._lines, self._bytes, self._errors = (task_id, attempt), 0, 0, 0, 0
            self._full = False
        message = self.format(record)[:MAX_LINE_CHARS]
        if self._full:
            if record.levelno < logging.ERROR or self._errors >= ERROR_ALLOWANCE:
                return
            self._errors += 1
        elif self._lines + 1 >= self.max_lines or self._bytes + len(message) >= self.max_bytes:
            self._full = True
            message += (f"\n[trainyard: this attempt's log limit ({self.max_lines} lines, "
                        f"{self.max_bytes // 1024} KiB) is reached; later lines are not kept, "
                        f"except up to {ERROR_ALLOWANCE} errors]")
        self._write(task_id, attempt, record, message)
        self._lines += 1
        self._bytes += len(message)

    def _write(self, task_id: str, attempt: int, record: logging.LogRecord, message: str) -> None:
        for _ in range(2):  # a taken seq means another writer: renumber once from the table
            try:
                with session_scope() as session:
                    if self._seq == 0:
                        self._seq = log_queries.next_seq(session, task_id)
                    log_queries.append_line(session, task_id, self._seq, attempt, utcnow(),
                                            record.levelname, record.name, message)
                self._seq += 1
                return
            except IntegrityError:
                self._seq = 0


def install(logger: logging.Logger) -> None:
    """Tag and format every handler of ``logger`` (the root logger of a worker) and keep task
    lines in the database; warnings.warn goes through logging too."""
    settings = get_settings()
    tag, fmt = TaskFilter(), formatter()
    for handler in logger.handlers:
        handler.addFilter(tag)
        handler.setFormatter(fmt)
    if not any(isinstance(h, TaskLogStore) for h in logger.handlers):
        store = TaskLogStore(settings.task_log_max_lines, settings.task_log_max_kb * 1024)
        store.addFilter(tag)
        logger.addHandler(store)
        _stores.append(store)
    logging.captureWarnings(True)


def configure_plain_process(level: int = logging.INFO) -> None:
    """Logging for a role that is not a Celery worker (the reaper): stderr, text or JSON."""
    handler = logging.StreamHandler()
    handler.addFilter(TaskFilter())
    handler.setFormatter(formatter() if get_settings().log_format == "json"
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


@signals.after_setup_logger.connect
def _on_celery_logging(logger=None, **_kwargs) -> None:  # noqa: ANN001
    """celery's ``after_setup_logger`` signal: the worker's root logger is ready."""
    install(logger or logging.getLogger())
