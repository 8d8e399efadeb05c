"""This process's view of the model registry: a thread polls the database (one light query,
no blobs) every ``serve_poll_seconds``, loads what became READY, reloads what changed, applies
new batching/worker settings, unloads what was deleted, and records what it holds in its
``serving_processes`` heartbeat row."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

from dao import model_queries
from dao.db import session_scope
from dao.model_queries import Entry
from contracts.serving_settings import ServingSettings
from contracts.settings import get_settings
from contracts.statuses import ModelStatus
from serving.errors import ModelFailed, NotLoaded, UnknownModel
from serving.loaded import LoadedModel

log = logging.getLogger(__name__)
LOADING = "LOADING"


@dataclass
class Slot:
    """One registry row as this process sees it: state READY (``model`` set), LOADING,
    EXPORTING or FAILED (``error`` says why)."""

    entry: Entry
    state: str
    model: LoadedModel | None = None
    error: str | None = None


def batch_settings(e: Entry) -> ServingSettings:
    return ServingSettings(batch_size=e.batch_size, max_batch_delay=e.max_batch_delay_ms,
                           min_worker=e.min_worker, max_worker=max(e.max_worker, e.min_worker))


class Registry:
    def __init__(self):
        self._slots: dict[int, Slot] = {}
        self._lock = threading.Lock()
        self.synced = False  # True after the first full poll
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_beat = 0.0

    # ------------------------------------------------------------ following the database

    def start(self) -> "Registry":
        if self._thread is None:
            self._thread = threading.Thread(target=self._follow, daemon=True, name="registry")
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _follow(self) -> None:
        settings = get_settings()
        while not self._stop.is_set():
            try:
                self.sync()
                self._heartbeat(settings.serve_heartbeat_seconds)
            except Exception:  # noqa: BLE001 - a database outage must not end the poller
                log.warning("registry poll failed", exc_info=True)
            self._stop.wait(settings.serve_poll_seconds)

    def sync(self) -> None:
        with session_scope() as session:
            entries = model_queries.snapshot(session)
        seen = set()
        for e in entries:
            seen.add(e.id)
            self._apply(e)
        for gone in [i for i in self._slots if i not in seen]:
            self._drop(gone)
        self.synced = True

    def _apply(self, e: Entry) -> None:
        old = self._slots.get(e.id)
        if e.status != ModelStatus.READY.value:
            if old is None or old.entry.updated_at != e.updated_at or old.model is not None:
                self._replace(e.id, Slot(e, e.status, error=self._row_error(e)))
        elif old is None or old.model is None or old.entry.sha256 != e.sha256:
            self._load(e)
        else:
            if batch_settings(old.entry) != batch_settings(e):
                old.model.batcher.resize(batch_settings(e))
            old.entry = e

    def _row_error(self, e: Entry) -> str | None:
        if e.status != ModelStatus.FAILED.value:
            return None
        with session_scope() as session:
            row = model_queries.get_by_id(session, e.id)
            return None if row is None else row.error

    def _load(self, e: Entry) -> None:
        with self._lock:
            if e.id not in self._slots or self._slots[e.id].model is None:
                self._slots[e.id] = Slot(e, LOADING)
        try:
            with session_scope() as session:
                blob = model_queries.onnx_bytes(session, e.id)
            model = LoadedModel(e.id, e.name, e.version, blob, e.sha256, e.contract, batch_settings(e),
                                get_settings().serve_intra_op_threads)
        except Exception as exc:  # noqa: BLE001 - a file onnxruntime refuses fails that model only
            log.warning("model %s v%s: load failed: %s", e.name, e.version, exc)
            self._replace(e.id, Slot(e, ModelStatus.FAILED.value, error=f"onnxruntime could not load it: {exc}"))
            return
        self._replace(e.id, Slot(e, ModelStatus.READY.value, model))
        log.info("model %s v%s loaded (%d instance(s))", e.name, e.version, model.batcher.instances)

    def _replace(self, model_id: int, slot: Slot) -> None:
        with self._lock:
            old = self._slots.get(model_id)
            self._slots[model_id] = slot
        if old is not None and old.model is not None and old.model is not slot.model:
            old.model.unload()

    def _drop(self, model_id: int) -> None:
        with self._lock:
            old = self._slots.pop(model_id, None)
        if old is not None and old.model is not None:
            old.model.unload()

    def _heartbeat(self, every: float) -> None:
        if time.monotonic() - self._last_beat < every:
            return
        with session_scope() as session:
            model_queries.heartbeat_process(session, self.name, socket.gethostname(), os.getpid(),
                                            self.held())
        self._last_beat = time.monotonic()

    def held(self) -> dict[str, dict]:
        """What this process holds, per registry id (what GET /models/<m> shows per process)."""
        with self._lock:
            slots = list(self._slots.values())
        return {str(s.entry.id): {"name": s.entry.name, "version": s.entry.version, "state": s.state,
                                  "instances": s.model.batcher.instances if s.model else 0,
                                  "waiting": s.model.batcher.waiting if s.model else 0}
                for s in slots}

    # ------------------------------------------------------------ answering

    def slots(self) -> list[Slot]:
        with self._lock:
            return list(self._slots.values())

    def versions(self, name: str) -> list[Slot]:
        return [s for s in self.slots() if s.entry.name == name]

    def find(self, name: str, version: str | None = None) -> Slot:
        """The slot of ``name`` (its default version when ``version`` is None). Raises
        UnknownModel, or NotLoaded before this process has read the registry once."""
        candidates = self.versions(name)
        if version is not None:
            candidates = [s for s in candidates if s.entry.version == version]
        elif candidates:
            defaults = [s for s in candidates if s.entry.is_default]
            candidates = defaults or [max(candidates, key=lambda s: s.entry.id)]
        if not candidates:
            if not self.synced:
                raise NotLoaded("the serving process is still reading the model registry", retry_after=1)
            what = f"model {name!r}" + ("" if version is None else f" version {version!r}")
            raise UnknownModel(f"{what} is not registered")
        return candidates[0]

    def ready_model(self, name: str, version: str | None = None) -> LoadedModel:
        """The loaded model. Raises UnknownModel, NotLoaded (exporting, loading: 503 with
        Retry-After), ModelFailed."""
        slot = self.find(name, version)
        if slot.model is not None:
            return slot.model
        what = f"model {name!r} version {slot.entry.version!r}"
        if slot.state == ModelStatus.FAILED.value:
            raise ModelFailed(f"{what} failed: {slot.error or 'unknown error'}")
        doing = "being exported and verified" if slot.state == ModelStatus.EXPORTING.value else "loading"
        raise NotLoaded(f"{what} is {doing}; try again shortly", retry_after=2)

    def all_ready(self) -> bool:
        return self.synced and all(s.model is not None or s.state == ModelStatus.FAILED.value
                                   or s.state == ModelStatus.EXPORTING.value for s in self.slots())
