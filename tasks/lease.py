"""The lease of a running task: a thread renews its heartbeat and notices stop requests.

A stop request (status STOPPING) is polled every ``poll_seconds`` so the training loop, which
asks ``stop_requested`` once per batch, ends within about a second of the request.
"""

from __future__ import annotations

import logging
import threading
import time

from dao import task_queries
from dao.db import session_scope
from dao.tables import Task
from contracts.statuses import TaskStatus

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, task_id: str, worker: str, heartbeat_seconds: float, lease_seconds: float,
                 poll_seconds: float = 0.25):
        self.task_id = task_id
        self.worker = worker
        self.heartbeat_seconds = heartbeat_seconds
        # Past this long without a renewal the reaper may already have given the task away.
        self.give_up_seconds = max(lease_seconds - heartbeat_seconds, heartbeat_seconds)
        self.poll_seconds = poll_seconds
        self._stop_requested = threading.Event()
        self._lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{task_id}", daemon=True)

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    @property
    def lost(self) -> bool:
        """True once the row no longer belongs to this worker (reaped, or finished elsewhere)."""
        return self._lost.is_set()

    def start(self) -> "Lease":
        self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        last_beat = last_renewed = time.monotonic()
        while not self._done.wait(self.poll_seconds):
            try:
                if time.monotonic() - last_beat >= self.heartbeat_seconds:
                    last_beat = time.monotonic()
                    self._observe(self._beat())
                    last_renewed = time.monotonic()
                else:
                    self._observe(self._status())
            except Exception as exc:  # noqa: BLE001 - a database blip must not kill the job
                log.warning("lease check failed: %s", exc)
                if time.monotonic() - last_renewed > self.give_up_seconds:
                    log.warning("lease not renewed for %.0fs; giving the task up", self.give_up_seconds)
                    self._lost.set()

    def _beat(self) -> str | None:
        with session_scope() as session:
            return task_queries.heartbeat(session, self.task_id, self.worker)

    def _status(self) -> str | None:
        with session_scope() as session:
            task = session.get(Task, self.task_id)
            if task is None or task.worker != self.worker:
                return None
            return task.status

    def _observe(self, status: str | None) -> None:
        if status == TaskStatus.STOPPING.value:
            self._stop_requested.set()
        elif status != TaskStatus.RUNNING.value:
            log.warning("lease lost (status %s)", status)
            self._lost.set()
