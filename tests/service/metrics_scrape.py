"""Reading Prometheus text exposition in tests (prometheus_client's own parser)."""

from __future__ import annotations

import time

import requests
from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str) -> list:
    """The API's /metrics takes the stacks' admin token; a worker's or the reaper's own port
    ignores it."""
    from tests.service.stack import AUTH_HEADERS

    r = requests.get(url, timeout=30, headers=AUTH_HEADERS)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    return list(text_string_to_metric_families(r.text))


def samples(url: str, name: str, **labels: str) -> list:
    """Samples called ``name`` (e.g. ``trainyard_http_requests_total``) whose labels include
    ``labels``."""
    return [s for fam in scrape(url) for s in fam.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def value(url: str, name: str, **labels: str) -> float:
    """The sum of the matching samples (0 when there are none)."""
    return sum(s.value for s in samples(url, name, **labels))


def wait_value(url: str, name: str, expected: float, timeout: float = 60, **labels: str) -> float:
    deadline = time.monotonic() + timeout
    while True:
        got = value(url, name, **labels)
        if got == expected:
            return got
        assert time.monotonic() < deadline, f"{name}{labels} = {got}, expected {expected}"
        time.sleep(0.25)
