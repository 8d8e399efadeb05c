"""This process's view of the model registry: a thread polls the database (one light query,
no blobs) every ``serve_poll_seconds``, loads what became READY, reloads what changed, applies
new batching/worker settings, unloads what was deleted, and records what it holds in its
``serving_processes`` heartbeat row.

The view is not what a prediction answers from: every request reads its model's versions from
the database (``versions_now``: one indexed read) and answers as they are now, loading a READY
model here first when this process has not yet. So every process behind one address gives the
same answer whatever its last poll saw: a deleted model is unknown at once, a model just made
READY is served at once. Only while the database cannot be read does the view answer."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from dao import model_queries
from dao.db import read, session_scope
from dao.errors import ModelNotFound
from dao.model_queries import Entry, Version
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
    EXPORTING or FAILED (``error`` says why). ``since``: when this process made it."""

    entry: Entry
    state: str
    model: LoadedModel | None = None
    error: str | None = None
    since: float = field(default_factory=time.monotonic)


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
        self._loads: dict[int, threading.Event] = {}  # model id → set when its load under way ends
        self._unreadable_until = 0.0  # monotonic; see versions_now

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
        started = time.monotonic()
        with session_scope() as session:
            entries = model_queries.snapshot(session)
        # A slot a request made after the snapshot was read is newer than the snapshot: it is
        # left to the next poll (a model a request loaded meanwhile is not unloaded by an old read).
        seen = set()
        for e in entries:
            seen.add(e.id)
            if not self._newer(e.id, started):
                self._apply(e)
        for slot in self.slots():
            if slot.entry.id not in seen:
                self._drop(slot.entry.id, started)
        self.synced = True

    def _newer(self, model_id: int, than: float) -> bool:
        slot = self._slots.get(model_id)
        return slot is not None and slot.since >= than

    def _apply(self, e: Entry) -> None:
        old = self._slots.get(e.id)
        if e.status != ModelStatus.READY.value:
            if old is None or old.entry.updated_at != e.updated_at or old.model is not None:
                self._replace(e.id, Slot(e, e.status, error=self._row_error(e)))
        elif old is None or old.model is None or old.entry.sha256 != e.sha256:
            self._load_soon(e.id).wait()
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

    def _load_soon(self, model_id: int) -> threading.Event:
        """Set when a load of the model's row as it is now has ended (loaded, or failed: its
        slot says why). Starts one in a thread of its own unless one is under way: the poll and
        every request that needs the model wait for the same load, each as long as it may."""
        with self._lock:
            done = self._loads.get(model_id)
            if done is None:
                done = self._loads[model_id] = threading.Event()
                threading.Thread(target=self._load_now, args=(model_id, done), daemon=True,
                                 name=f"load-{model_id}").start()
        return done

    def _load_now(self, model_id: int, done: threading.Event) -> None:
        try:
            with session_scope() as session:
                e = model_queries.entry(session, model_id)
            held = self._slots.get(model_id)
            # A poll that found no model may ask just after a request's load of it ended.
            if e is not None and e.status == ModelStatus.READY.value and not (
                    held is not None and held.model is not None and held.entry.sha256 == e.sha256):
                self._load(e)
        except Exception:  # noqa: BLE001 - reading the row failed: whoever waits sees no model
            log.warning("model %d: could not read its registry row to load it", model_id, exc_info=True)
        finally:
            with self._lock:
                self._loads.pop(model_id, None)
            done.set()

    def _load(self, e: Entry) -> None:
        with self._lock:
            if e.id not in self._slots or self._slots[e.id].model is None:
                self._slots[e.id] = Slot(e, LOADING)
        try:
            with session_scope() as session:  # the file is read after the session ends
                source = model_queries.open_onnx(session, e.id)
            if source is None:
                raise ValueError("its registry row holds no ONNX file")
            with contextlib.closing(source):
                blob = source.read()
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

    def _drop(self, model_id: int, made_before: float) -> None:
        """Unload and forget the model, unless its slot was made at ``made_before`` or later."""
        with self._lock:
            old = self._slots.get(model_id)
            if old is None or old.since >= made_before:
                return
            del self._slots[model_id]
        if old.model is not None:
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
            raise UnknownModel(str(ModelNotFound(name, version)))
        return candidates[0]

    def versions_now(self, name: str) -> list[Version] | None:
        """Every version of ``name`` in the database now; None while it cannot be read. Then
        this process answers from its own view (the last poll's) as it did before it checked
        every request: a database outage must not stop predictions. After a failed read the
        database is not asked again for ``serve_poll_seconds``, so an outage does not add a
        connect timeout to every request."""
        if time.monotonic() < self._unreadable_until:
            return None
        try:
            return read(lambda conn: model_queries.versions_now(conn, name))
        except SQLAlchemyError as exc:
            log.warning("the model registry could not be read (%s); answering from this process's view for "
                        "%g s", str(exc).splitlines()[0], get_settings().serve_poll_seconds)
            self._unreadable_until = time.monotonic() + get_settings().serve_poll_seconds
            return None

    def ready_model(self, name: str, version: str | None = None,
                    rows: list[Version] | None = None) -> LoadedModel:
        """The loaded model that answers for ``name`` (its default version when ``version`` is
        None) as ``rows`` (``versions_now``) have it, loaded here first if this process has not
        yet; from this process's own view when ``rows`` is None. Raises UnknownModel, NotLoaded
        (exporting; not loaded here within the request timeout, or this process could not load
        it: 503 with Retry-After), ModelFailed (its export failed)."""
        if rows is None:
            return self._from_view(name, version)
        row = pick(rows, name, version)
        what = f"model {name!r} version {row.version!r}"
        if row.status == ModelStatus.FAILED.value:
            raise ModelFailed(f"{what} failed: {row.error or 'unknown error'}")
        if row.status != ModelStatus.READY.value:
            raise NotLoaded(f"{what} is being exported and verified; try again shortly", retry_after=2)
        model = self._held(row, what)
        if model is None:
            if not self._load_soon(row.id).wait(get_settings().serve_request_timeout_seconds):
                raise NotLoaded(f"{what} is still loading in this serving process; try again shortly", retry_after=2)
            model = self._held(row, what)
        if model is None:  # the row changed while it loaded
            raise NotLoaded(f"{what} changed while it was loading; try again", retry_after=1)
        return model

    def _held(self, row: Version, what: str) -> LoadedModel | None:
        """This process's model of ``row``; None when not loaded (yet). Raises NotLoaded when
        this process could not load it (the poll tries again)."""
        slot = self._slots.get(row.id)
        if slot is None or slot.entry.sha256 != row.sha256:
            return None
        if slot.model is None and slot.state == ModelStatus.FAILED.value:
            raise NotLoaded(f"{what} is READY, but not in this serving process: {slot.error}; try again shortly",
                            retry_after=2)
        return slot.model

    def _from_view(self, name: str, version: str | None) -> LoadedModel:
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


def pick(rows: list[Version], name: str, version: str | None) -> Version:
    """The row a request names: ``version``, or the default (the newest when none is marked),
    as ``model_queries.find`` picks it. Raises UnknownModel."""
    if version is not None:
        found = [r for r in rows if r.version == version]
    else:
        found = [r for r in rows if r.is_default] or rows
    if not found:
        raise UnknownModel(str(ModelNotFound(name, version)))
    return found[-1]
