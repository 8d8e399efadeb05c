"""gunicorn settings for trainyard's web roles (``start.sh api|serve|embedded`` run
``gunicorn -c gunicorn.conf.py``). Every value comes from ``contracts.settings.Settings`` (the
one reader of ``TRAINYARD_*``), so the same file serves a laptop, docker-compose and Kubernetes:
``bind``, ``gunicorn_workers`` (0: ``2 * cores + 1`` capped at 8, where cores honours the
container's CPU quota and the CPU affinity mask), ``gunicorn_threads`` (each ``?wait=`` poll
holds one while it waits), ``gunicorn_timeout`` (a dataset upload reaches gunicorn only after
nginx has buffered the whole body, so this covers reading up to ``max_upload_mb`` over loopback
plus checking and storing it; nginx's ``proxy_read_timeout`` is kept at least as long),
``forwarded_allow_ips`` (proxies whose ``X-Forwarded-*`` headers count: ``127.0.0.1`` by default,
``*`` in the images, where only nginx / the ingress reaches the port), ``log_level`` and
``proc_name``.

The access log goes to stdout and records the ``X-Forwarded-For``/``-Proto``/``Host`` headers that
the proxy set, so a request can be followed from nginx to the app.
"""

from __future__ import annotations

import math
import os

from contracts.settings import get_settings, multiprocess_dir

_settings = get_settings()


def _cgroup_cpu_limit() -> int | None:
    """CPUs allowed by a cgroup v2 quota (``cpu.max`` = ``quota period``), or None when unlimited."""
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as fh:
            quota, period = fh.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def cpu_count() -> int:
    """The cores this process may really use (affinity mask, then container quota)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    return min(cores, limit) if limit else cores


MAX_DEFAULT_WORKERS = 8


def default_workers() -> int:
    return min(2 * cpu_count() + 1, MAX_DEFAULT_WORKERS)


bind = [_settings.bind]
workers = _settings.gunicorn_workers or default_workers()
# Threaded workers: nginx buffers whole requests (proxy_request_buffering on) and responses, so a
# slow client never holds a worker; the API does short database work per request, a poll that
# waits for a change (GET /api/v0/tasks/<id>?wait=) holds one thread, not the whole process, and
# the serving role needs concurrent requests in one process for dynamic batching to group them.
worker_class = "gthread"
threads = _settings.gunicorn_threads
timeout = _settings.gunicorn_timeout
graceful_timeout = 30  # SIGTERM: finish in-flight requests, then exit
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow forever; jitter avoids all at once.
# Not too often: a new API worker spends about 1.2 s of CPU loading the app, so recycling every
# 2,000 requests cost a fifth of a core at 600 polls/s.
max_requests = 20000
max_requests_jitter = 2000

# gunicorn answers a request line past this itself, in HTML; at its maximum (8190: 0 would read a
# line of any length into memory) it is above the API's own limit on a URL (app.uploads
# MAX_URL_BYTES, 4096), which answers a JSON 414 first. nginx's large_client_header_buffers
# (default 8k) refuses longer lines before they get here.
limit_request_line = 8190
forwarded_allow_ips = _settings.forwarded_allow_ips
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
access_log_format = (
    '%(h)s "%(r)s" %(s)s %(b)s %(M)sms '
    'xff="%({x-forwarded-for}i)s" proto="%({x-forwarded-proto}i)s" '
    'host="%({x-forwarded-host}i)s" ua="%(a)s"'
)
# Readable in `ps`/`top` when the API and workers share a box.
proc_name = _settings.proc_name


def child_exit(_server, worker) -> None:  # noqa: ANN001 - gunicorn's hook signature
    """A worker that exited stops counting in the live gauges of prometheus_client's
    multiprocess mode (its counters and histograms stay in the sums, as they must)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
