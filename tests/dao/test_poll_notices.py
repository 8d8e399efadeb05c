"""Migration 0108's trigger notifies only when a column the light poll reads changes: each
column the poll's statement reads must be in the trigger's list, or a kept view (dao.poll_cache)
would outlive a change to it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from sqlalchemy.dialects import postgresql

from dao.task_queries import _poll_statement
from contracts.task_result import METRIC_FIELDS

ROOT = Path(__file__).resolve().parents[2]


def _migration():  # noqa: ANN202 - the migration module
    path = ROOT / "migrations" / "versions" / "0108_task_change_notices.py"
    spec = importlib.util.spec_from_file_location("migration_0108", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_trigger_watches_every_tasks_column_the_light_poll_reads():
    sql = str(_poll_statement("postgresql", tuple(sorted(METRIC_FIELDS))).compile(dialect=postgresql.dialect()))
    read = set(re.findall(r"\btasks\.(\w+)", sql))
    assert {"status", "epochs_done", "result", "form"} <= read  # the pattern finds what it should
    assert read <= set(_migration().VIEW_COLUMNS), read - set(_migration().VIEW_COLUMNS)
