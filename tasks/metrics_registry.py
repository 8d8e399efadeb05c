"""How a trainyard process exposes its Prometheus metrics (prometheus_client), whatever its role.

Two modes, chosen by the environment, the same code either way:

- ``PROMETHEUS_MULTIPROC_DIR`` set: the client's multiprocess mode. Every process writes its
  samples to files in that folder and whoever serves ``/metrics`` adds them up. gunicorn's API
  workers always run this way (``start.sh api`` makes and empties the folder); on the embedded
  default ``start.sh`` gives the API, the workers and the reaper one folder, so the API's
  ``/metrics`` shows the whole box.
- unset: each process keeps its own registry and serves it on ``TRAINYARD_METRICS_PORT``
  (workers and the reaper in compose and Kubernetes, where Prometheus scrapes each pod).
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.registry import Collector

from contracts.settings import multiprocess_dir

log = logging.getLogger(__name__)


def scrape_registry(*extra: Collector) -> CollectorRegistry:
    """What a scrape of this process should show: the multiprocess folder's sum (or this
    process's own registry) plus ``extra`` collectors computed at scrape time."""
    folder = multiprocess_dir()
    if folder is None and not extra:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    if folder is not None:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return registry


class _Forward(Collector):
    """This process's default registry, as one collector of another registry."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self):  # noqa: ANN201
        return self.source.collect()


def serve(port: int, *extra: Collector, role: str) -> bool:
    """Serve this process's metrics on 127.0.0.1/``TRAINYARD_METRICS_ADDR``:``port``
    in a daemon thread; port 0 serves nothing. False when the port could not be bound (the
    role runs on without metrics rather than dying)."""
    if port <= 0:
        return False
    from contracts.settings import get_settings

    addr = get_settings().metrics_addr
    try:
        start_http_server(port, addr=addr, registry=scrape_registry(*extra))
    except OSError as exc:
        log.warning("%s: metrics not served on %s:%d: %s", role, addr, port, exc)
        return False
    log.info("%s: metrics on http://%s:%d/metrics", role, addr, port)
    return True
