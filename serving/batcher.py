"""Dynamic batching over a model's instances (MMS's ``batch_size`` / ``max_batch_delay``).

Callers ``submit`` their feeds (arrays with a leading batch axis) and wait; each instance thread
takes the oldest request, keeps collecting until the batch holds ``batch_size`` rows or
``max_batch_delay`` has passed since that request arrived, runs one ``session.run`` on the
concatenated feeds and hands every caller its own slice of the outputs. Given an ``expecting``
hook (how many requests for this model are still being read, serving.arrivals), the delay is a
bound, not a toll on every batch: an instance waits for more while a request is on its way, or
while the model's requests have lately been arriving close together (``ArrivalGaps``), and a
lone request to a quiet model runs at once. Instances are threads, each with its own
onnxruntime session: ``min_worker`` start at once, more start (up to ``max_worker``) while
requests wait with every instance busy.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from contracts.serving_settings import ServingSettings

Feeds = dict[str, np.ndarray]
_NOTHING = object()


class BatcherStopped(RuntimeError):
    """The model was unloaded while the request waited."""


class RequestTimeout(RuntimeError):
    """No instance answered within the request timeout."""


@dataclass
class Pending:
    feeds: Feeds
    rows: int
    enqueued: float = field(default_factory=time.perf_counter)
    done: threading.Event = field(default_factory=threading.Event)
    outputs: list[np.ndarray] | None = None
    error: BaseException | None = None
    timing: dict[str, float] = field(default_factory=dict)  # queue, batch, compute seconds; batch rows


class ArrivalGaps:
    """How far apart a model's requests arrive: an exponential average of the gaps between
    submits, each gap capped at the batch delay (a quiet spell counts as one long gap)."""

    WEIGHT = 0.3  # of the newest gap
    GAPS_TO_WAIT = 2.0

    def __init__(self) -> None:
        self._last: float | None = None
        self._mean = float("inf")

    def note(self, now: float, cap: float) -> None:
        if self._last is not None:
            gap = min(now - self._last, cap)
            self._mean = gap if self._mean == float("inf") else (1 - self.WEIGHT) * self._mean + self.WEIGHT * gap
        self._last = now

    def likely_until(self, delay: float) -> float | None:
        """Until when another request is still likely (two mean gaps after the latest), or None
        when requests have not been coming at least twice per ``delay``: then waiting for one
        would most likely cost the whole delay for nothing."""
        if self._last is None or self._mean > delay / self.GAPS_TO_WAIT:
            return None
        return self._last + self.GAPS_TO_WAIT * self._mean


class Batcher:
    """``run(feeds) -> list of outputs`` is what an instance does: ``session.run(None, feeds)``."""

    def __init__(self, make_runner: Callable[[], Callable[[Feeds], list[np.ndarray]]],
                 settings: ServingSettings, batchable: bool, expecting: Callable[[], int] | None = None):
        self._make_runner = make_runner
        self._expecting = expecting
        self._gaps = ArrivalGaps()
        self._queue: queue.Queue[Pending | None] = queue.Queue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._stopped = False
        self.batchable = batchable
        self.settings = settings
        self.started_at = time.time()
        self.resize(settings)

    # ------------------------------------------------------------ callers

    def submit(self, feeds: Feeds, timeout: float, queued: Callable[[], None] | None = None) -> Pending:
        """Queue ``feeds`` and wait for its outputs; ``queued`` is called once they are in the
        queue (before that, the caller still counts in ``expecting``). Raises BatcherStopped,
        RequestTimeout, or what the session raised for this batch."""
        rows = int(next(iter(feeds.values())).shape[0]) if feeds else 1
        item = Pending(feeds, rows)
        if self._stopped:
            raise BatcherStopped("the model is being unloaded")
        self._gaps.note(item.enqueued, self.settings.max_batch_delay_seconds)  # racing callers may drop a gap: harmless
        self._queue.put(item)
        if queued is not None:
            queued()
        self._grow_if_backlogged()
        if not item.done.wait(timeout):
            raise RequestTimeout(f"no answer within {timeout:g} s")
        if item.error is not None:
            raise item.error
        return item

    @property
    def instances(self) -> int:
        with self._lock:
            return sum(t.is_alive() for t in self._threads)

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    # ------------------------------------------------------------ settings

    def resize(self, settings: ServingSettings) -> None:
        """Apply new settings: start instances up to ``min_worker``, stop those above ``max_worker``."""
        with self._lock:
            self.settings = settings
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < settings.min_worker:
                self._start_instance()
            for _ in range(len(self._threads) - settings.max_worker):
                self._queue.put(None)  # one instance takes it and ends
                self._threads.pop()

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            for _ in self._threads:
                self._queue.put(None)
            self._threads = []
        self._fail_waiting(BatcherStopped("the model was unloaded"))

    def _grow_if_backlogged(self) -> None:
        with self._lock:
            self._grow_locked()

    def _grow_locked(self) -> None:
        """One more instance when requests wait and every instance is busy. Checked on submit and
        whenever an instance takes work: a burst submitted before the first instance was busy
        would otherwise leave the backlog to fewer instances than max_worker allows."""
        if self._stopped or self._queue.qsize() == 0:  # the common case, before any thread is looked at
            return
        alive = [t for t in self._threads if t.is_alive()]
        if self._busy >= len(alive) and len(alive) < self.settings.max_worker:
            self._threads = alive
            self._start_instance()

    def _start_instance(self) -> None:
        runner = self._make_runner()
        thread = threading.Thread(target=self._serve, args=(runner,), daemon=True,
                                  name=f"instance-{len(self._threads)}")
        self._threads.append(thread)
        thread.start()

    # ------------------------------------------------------------ instances

    def _serve(self, runner: Callable[[Feeds], list[np.ndarray]]) -> None:
        while True:
            first = self._queue.get()
            if first is None or self._stopped:
                if first is not None:
                    self._queue.put(first)
                return
            with self._lock:
                self._busy += 1
                self._grow_locked()
            try:
                picked = time.perf_counter()
                batch = self._collect(first)
                self._run(runner, batch, picked)
            finally:
                with self._lock:
                    self._busy -= 1

    def _collect(self, first: Pending) -> list[Pending]:
        batch, rows = [first], first.rows
        limit = self.settings.batch_size if self.batchable else 1
        deadline = first.enqueued + self.settings.max_batch_delay_seconds
        while rows < limit:
            item = self._next_for_batch(deadline)
            if item is _NOTHING:
                break
            if item is None:  # a stop token: leave it for the next instance to take
                self._queue.put(None)
                break
            if rows + item.rows > limit:
                self._queue.put(item)  # too big for this batch; the next one takes it
                break
            batch.append(item)
            rows += item.rows
        return batch

    def _next_for_batch(self, deadline: float):  # noqa: ANN202 - a Pending, None (stop) or _NOTHING
        """The next queued item if one comes before ``deadline``. With an ``expecting`` hook it
        waits the whole way only when a request for this model is on its way (it wakes when
        that one is queued; one that never is, refused before it got here, costs at most the
        delay); otherwise only as long as the recent arrivals make another one likely."""
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            pass
        until = deadline
        if self._expecting is not None and self._expecting() <= 0:
            likely = self._gaps.likely_until(self.settings.max_batch_delay_seconds)
            if likely is None:
                return _NOTHING
            until = min(deadline, likely)
        wait = until - time.perf_counter()
        if wait <= 0:
            return _NOTHING
        try:
            return self._queue.get(timeout=wait)
        except queue.Empty:
            return _NOTHING

    def _run(self, runner, batch: list[Pending], picked: float) -> None:
        """Timing per caller: queue (until an instance picked the batch up, or until it joined
        one), batch (filling the batch and concatenating), compute (``session.run``)."""
        try:
            feeds = batch[0].feeds if len(batch) == 1 else {
                name: np.concatenate([p.feeds[name] for p in batch]) for name in batch[0].feeds}
            computed = time.perf_counter()
            outputs = runner(feeds)
            finished = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - the callers get the error, the instance lives
            for p in batch:
                p.error = exc
                p.done.set()
            return
        rows = sum(p.rows for p in batch)
        offset = 0
        for p in batch:
            p.outputs = [out[offset:offset + p.rows] for out in outputs] if len(batch) > 1 else outputs
            offset += p.rows
            joined = max(picked, p.enqueued)
            p.timing = {"queue": joined - p.enqueued, "batch": computed - joined,
                        "compute": finished - computed, "rows": rows}
            p.done.set()

    def _fail_waiting(self, error: BaseException) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item.error = error
                item.done.set()
