"""The audit writer thread and an explicit flush: once ``flush()`` returns, every entry queued
before it is in the database, even when the writer thread had already picked it up and was
waiting out its batching delay."""

from __future__ import annotations

import threading

import pytest

from app.auth import audit
from tests.app.inprocess import in_process_api


@pytest.fixture(scope="module")
def api():
    with in_process_api() as api:
        yield api


def test_a_flush_returns_only_once_the_writer_threads_entries_are_written(api):
    for n in range(3):
        r = api.post("/api/v0/projects", json={"id": f"P{n}", "name": f"project {n}"})
        assert r.status_code == 201, r.text
        # Give the writer thread the moment it needs to wake inside its batching delay.
        threading.Event().wait(audit.FLUSH_SECONDS / 4)
        created = [e for e in api.audit() if e["action"] == "accounts.create_project"]
        assert len(created) == n + 1, created
