"""Serving metrics (prometheus_client), on the serving role's own ``/metrics``.

Labels stay bounded: ``model``/``version`` are registry names this process resolved (an unknown
name is counted as ``model="_unknown"``), ``interface`` and ``kind``/``phase`` are fixed sets.
Under gunicorn with several processes set ``PROMETHEUS_MULTIPROC_DIR`` (``start.sh serve`` does)
so ``/metrics`` sums every process.
"""

from __future__ import annotations

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)

from contracts.settings import multiprocess_dir
from webcommon.metrics_scope import for_caller

LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

REQUESTS = Counter("trainyard_serving_requests_total", "Prediction requests answered, by outcome",
                   ["model", "version", "interface"])
ERRORS = Counter("trainyard_serving_errors_total", "Prediction requests refused or failed, by kind",
                 ["model", "version", "kind"])
LATENCY = Histogram("trainyard_serving_latency_seconds",
                    "Time a prediction spent in each phase: queue (waiting for an instance), batch "
                    "(filling and concatenating the batch), compute (session.run), total (whole request)",
                    ["model", "version", "phase"], buckets=LATENCY_BUCKETS)
BATCH_ROWS = Histogram("trainyard_serving_batch_rows", "Rows in the batch a prediction ran in",
                       ["model", "version"], buckets=ROW_BUCKETS)
CACHE_HITS = Counter("trainyard_serving_cache_hits_total", "Predictions answered from the cache",
                     ["model", "version"])


def observe(model: str, version: str, timing: dict, total: float) -> None:
    for phase in ("queue", "batch", "compute"):
        if phase in timing:
            LATENCY.labels(model, version, phase).observe(timing[phase])
    LATENCY.labels(model, version, "total").observe(total)
    if "rows" in timing:
        BATCH_ROWS.labels(model, version).observe(timing["rows"])


def exposition() -> tuple[bytes, str]:
    """This role's series (every process's, in multiprocess mode) as the caller may see them
    (webcommon.metrics_scope)."""
    registry = REGISTRY
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(for_caller(registry)), CONTENT_TYPE_LATEST
