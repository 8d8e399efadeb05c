"""Fractal's optional prediction cache: bounded (LRU), keyed by the model's checksum and a hash
of the input arrays, so a reloaded or changed model never answers from stale entries."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np


class PredictionCache:
    def __init__(self, entries: int):
        self.entries = entries
        self._data: OrderedDict[str, list[np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(model_sha: str, feeds: dict[str, np.ndarray]) -> str:
        h = hashlib.sha256(model_sha.encode())
        for name in sorted(feeds):
            arr = np.ascontiguousarray(feeds[name])
            h.update(name.encode() + str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
        return h.hexdigest()

    def get(self, key: str) -> list[np.ndarray] | None:
        if not self.entries:
            return None
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, key: str, outputs: list[np.ndarray]) -> None:
        if not self.entries:
            return
        with self._lock:
            self._data[key] = outputs
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)
