"""Bad tokens counted (Prometheus ``trainyard_auth_failures_total`` by reason) and slowed: a
client address that sent more than ``TRAINYARD_AUTH_FAILURES_PER_MINUTE`` unknown, revoked or
expired tokens in the last minute is refused with 429 until its count falls, before its token is
even looked up. Counted per process (each gunicorn worker keeps its own window), which bounds a
guesser to that rate times the workers."""

from __future__ import annotations

import collections
import ipaddress
import threading
import time

from flask import request
from prometheus_client import Counter

from contracts.settings import get_settings

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000
FAILURES = Counter("trainyard_auth_failures", "Requests refused for their credentials, by reason: missing "
                   "(no token), invalid (unknown, revoked or expired), throttled (too many invalid ones "
                   "from the client's address)", ["reason"])

_lock = threading.Lock()
_seen: dict[str, collections.deque] = {}


def client_address() -> str:
    """The caller's address: the peer, or the address a trusted proxy (TRAINYARD_FORWARDED_ALLOW_IPS,
    as gunicorn trusts it) put last in X-Forwarded-For."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _trusted(peer):
        return forwarded.split(",")[-1].strip()[:100] or peer
    return peer


def _trusted(peer: str) -> bool:
    allowed = [p.strip() for p in get_settings().forwarded_allow_ips.split(",") if p.strip()]
    if "*" in allowed:
        return True
    try:
        addr = ipaddress.ip_address(peer)
        return any(addr in ipaddress.ip_network(p, strict=False) for p in allowed)
    except ValueError:
        return False


def throttled(address: str) -> bool:
    limit = get_settings().auth_failures_per_minute
    with _lock:
        recent = _recent(address, time.monotonic())
        return recent is not None and len(recent) >= limit


def failed(address: str) -> None:
    now = time.monotonic()
    with _lock:
        recent = _recent(address, now)
        if recent is None:
            if len(_seen) >= MAX_ADDRESSES:
                _seen.clear()
            recent = _seen[address] = collections.deque()
        recent.append(now)


def _recent(address: str, now: float) -> collections.deque | None:
    recent = _seen.get(address)
    if recent is None:
        return None
    while recent and recent[0] <= now - WINDOW_SECONDS:
        recent.popleft()
    if not recent:
        del _seen[address]
        return None
    return recent


def retry_after(address: str) -> int:
    with _lock:
        recent = _seen.get(address)
        return 1 if not recent else max(1, int(recent[0] + WINDOW_SECONDS - time.monotonic()) + 1)


def forget_all() -> None:
    with _lock:
        _seen.clear()
