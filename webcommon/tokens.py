"""Bearer tokens to identities, with a short per-process cache of verified ones.

A hit skips the database for ``TRAINYARD_TOKEN_CACHE_SECONDS`` (the submit path stays cheap);
an expiry is still checked on every hit, and a revocation clears this process's entry at once
(other processes notice within the cache's seconds; 0 turns the cache off). ``last_used_at`` is
written at most once a minute per token per process.
"""

from __future__ import annotations

import threading
import time

from dao import auth_queries
from dao.auth_queries import Identity
from dao.db import session_scope
from contracts.settings import get_settings
from dao.tables import utcnow

TOUCH_EVERY_SECONDS = 60.0
_lock = threading.Lock()
_cache: dict[str, tuple[Identity, float]] = {}  # sha256 of the secret → (identity, until)
_touched: dict[int, float] = {}


def identify(secret: str) -> Identity | None:
    """The live token's identity, or None (unknown, revoked, expired)."""
    key = auth_queries.hash_secret(secret)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[1] > now:
        ident = hit[0]
        return ident if ident.expires_at is None or ident.expires_at > utcnow() else None
    with session_scope() as session:
        ident = auth_queries.verify(session, secret)
        if ident is not None and now - _touched.get(ident.token_id, -TOUCH_EVERY_SECONDS) >= TOUCH_EVERY_SECONDS:
            auth_queries.touch(session, ident.token_id)
            _touched[ident.token_id] = now
    ttl = get_settings().token_cache_seconds
    with _lock:
        if ident is None or ttl <= 0:
            _cache.pop(key, None)
        else:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[key] = (ident, now + ttl)
    return ident


def forget(token_hash: str | None = None) -> None:
    """Drop one cached token (after its revocation) or all (after a membership change)."""
    with _lock:
        if token_hash is None:
            _cache.clear()
        else:
            _cache.pop(token_hash, None)
