"""Inference requests this serving process has begun reading but not yet queued on a model's
batcher, per model name. A batch waits (at most ``max_batch_delay``) only while some are still
on their way, so a lone request to a quiet model runs at once instead of waiting out the delay.

``begin`` runs in a ``before_request`` hook of the inference routes, ``reached`` once the
request is queued (serving.predict) or, for one that never is, when it ends.
"""

from __future__ import annotations

import threading
from collections import Counter

from flask import g

_lock = threading.Lock()
_on_the_way: Counter[str] = Counter()


def begin(name: str) -> None:
    with _lock:
        _on_the_way[name] += 1
    g.trainyard_arriving = name


def reached() -> None:
    """This request no longer counts (idempotent)."""
    name = g.pop("trainyard_arriving", None)
    if name is not None:
        with _lock:
            _on_the_way[name] -= 1


def on_the_way(name: str) -> int:
    return _on_the_way[name]
