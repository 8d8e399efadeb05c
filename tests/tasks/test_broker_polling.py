"""The embedded filesystem broker polls at TRAINYARD_BROKER_POLL_INTERVAL, not at kombu's default
of 1 s (with which 50 tiny tasks waited over 6 s). Checked on the transport a worker's
connection really uses; the resulting dispatch latency is measured by bench/bench_lifecycle.py."""

from __future__ import annotations

from contracts.settings import reset_settings
from tasks.celery_app import get_celery, reset_celery


def polling_interval() -> float:
    with get_celery().connection_for_read() as conn:
        return conn.transport.polling_interval


def test_the_worker_connection_polls_at_the_configured_interval(embedded_db, monkeypatch):
    assert polling_interval() == 0.05
    monkeypatch.setenv("TRAINYARD_BROKER_POLL_INTERVAL", "0.2")
    reset_settings(), reset_celery()
    assert polling_interval() == 0.2
