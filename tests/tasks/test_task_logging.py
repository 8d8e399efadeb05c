"""Worker logging on a real (SQLite) database: every line tagged with its task and attempt by
one filter, lines of an attempt stored as they are logged and bounded, JSON when asked."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from dao import log_queries, task_queries
from dao.db import session_scope
from tasks import task_logging
from tests.service.forms import form
from tests.tasks.conftest import ROOT


def _task() -> str:
    with session_scope() as s:
        return task_queries.insert_new_task(
            s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN",
            backend="torch", queue="torch", form=form(), status="RUNNING", attempt=1)


@pytest.fixture()
def worker_logger(embedded_db):
    """A logger set up as a worker's root logger is, with one handler writing to a list."""
    logger = logging.getLogger(f"test-worker-{id(embedded_db)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    seen: list[str] = []

    class ToList(logging.Handler):
        def emit(self, record):
            seen.append(self.format(record))

    logger.addHandler(ToList())
    task_logging.install(logger)
    logger.seen = seen
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logging.captureWarnings(False)


def _stored(task_id: str) -> list:
    with session_scope() as s:
        return log_queries.lines_after(s, task_id, 0, 10_000)


def test_lines_carry_task_and_attempt_and_only_attempt_lines_are_stored(worker_logger):
    task_id = _task()
    worker_logger.info("before any task")
    with task_logging.task(task_id):
        worker_logger.info("not claimed yet")
        task_logging.set_attempt(1)
        worker_logger.info("epoch %d/%d", 1, 2)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            worker_logger.exception("failed")
    worker_logger.info("after the task")
    assert worker_logger.seen[0].endswith("] before any task")
    assert f"] task {task_id}: not claimed yet" in worker_logger.seen[1]
    assert f"] task {task_id} attempt 1: epoch 1/2" in worker_logger.seen[2]
    assert worker_logger.seen[-1].endswith("] after the task")
    rows = _stored(task_id)
    assert [(r.seq, r.attempt, r.level) for r in rows] == [(1, 1, "INFO"), (2, 1, "ERROR")]
    assert rows[0].message == "epoch 1/2"
    assert rows[1].message.startswith("failed\nTraceback") and "RuntimeError: boom" in rows[1].message


def test_a_new_attempt_continues_the_numbering(worker_logger):
    task_id = _task()
    for attempt in (1, 2):
        with task_logging.task(task_id, attempt):
            worker_logger.info("line of attempt %d", attempt)
    assert [(r.seq, r.attempt) for r in _stored(task_id)] == [(1, 1), (2, 2)]


def test_an_attempt_keeps_at_most_its_limit_and_errors_beyond_it(worker_logger, monkeypatch):
    store = next(h for h in worker_logger.handlers if isinstance(h, task_logging.TaskLogStore))
    monkeypatch.setattr(store, "max_lines", 5)
    task_id = _task()
    with task_logging.task(task_id, 1):
        for i in range(50):
            worker_logger.info("line %d", i)
        worker_logger.error("the failure")
    rows = _stored(task_id)
    assert [r.message.split("\n")[0] for r in rows] == [f"line {i}" for i in range(5)] + ["the failure"]
    assert "log limit" in rows[4].message
    assert worker_logger.seen[-1].endswith("the failure"), "the worker's own log keeps everything"


def test_warnings_reach_the_task_log(embedded_db):
    """In a process of its own: pytest captures warnings itself."""
    task_id = _task()
    code = (
        "import logging, warnings\n"
        "from tasks import task_logging\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "task_logging.install(logging.getLogger())\n"
        f"with task_logging.task({task_id!r}, 1):\n"
        "    warnings.warn('lr looks large', UserWarning)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"task {task_id} attempt 1: " in out.stderr and "lr looks large" in out.stderr
    (row,) = _stored(task_id)
    assert row.logger == "py.warnings" and row.level == "WARNING" and "lr looks large" in row.message


def test_json_format_is_one_object_per_line(embedded_db, monkeypatch):
    from contracts.settings import reset_settings

    monkeypatch.setenv("TRAINYARD_LOG_FORMAT", "json")
    reset_settings()
    record = logging.LogRecord("tasks.runner", logging.INFO, __file__, 1, "epoch %d", (3,), None)
    with task_logging.task("TASK1", 2):
        task_logging.TaskFilter().filter(record)
    doc = json.loads(task_logging.formatter().format(record))
    assert doc["message"] == "epoch 3" and doc["task_id"] == "TASK1" and doc["attempt"] == 2
    assert doc["level"] == "INFO" and doc["logger"] == "tasks.runner"


def test_a_failed_write_pauses_storing_instead_of_blocking_every_line(worker_logger):
    from sqlalchemy import text

    from dao.db import get_engine

    store = next(h for h in worker_logger.handlers if isinstance(h, task_logging.TaskLogStore))
    task_id = _task()
    with get_engine().begin() as conn:
        conn.execute(text("ALTER TABLE task_logs RENAME TO task_logs_away"))
    with task_logging.task(task_id, 1):
        worker_logger.info("lost: the table is away")
        with get_engine().begin() as conn:
            conn.execute(text("ALTER TABLE task_logs_away RENAME TO task_logs"))
        worker_logger.info("not tried: storing is paused")
        assert store._quiet_until > 0
        store._quiet_until = 0.0  # the pause is over
        worker_logger.info("kept again")
    assert [r.message for r in _stored(task_id)] == ["kept again"]
    assert worker_logger.seen[-3].endswith("lost: the table is away"), "the worker's own log has it"


def test_a_line_logged_inside_a_transaction_waits_for_it_instead_of_for_its_locks(worker_logger):
    task_id = _task()
    with task_logging.task(task_id, 1):
        with session_scope() as s:
            task_queries.record_progress(s, task_id, "w", 1)  # SQLite: this thread holds the write lock
            worker_logger.info("inside")
            assert _stored_elsewhere(task_id) == []
        worker_logger.info("outside")
    assert [r.message for r in _stored(task_id)] == ["inside", "outside"]


def _stored_elsewhere(task_id: str) -> list:
    import threading

    out: list = []
    reader = threading.Thread(target=lambda: out.extend(_stored(task_id)))
    reader.start()
    reader.join(timeout=30)
    return out
