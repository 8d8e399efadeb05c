"""dao/pending_work.py's SQL and tasks/placement.py's place() agree on where an unsent task goes,
for every device request, auto_device setting and kind of worker fleet; on the embedded SQLite
(so the Python function works where the metric would run without PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import delete

from dao import worker_queries
from dao.db import session_scope
from dao.pending_work import Pool, pending_work
from contracts.settings import get_settings
from dao.tables import Task, Worker, utcnow
from contracts.statuses import TaskStatus
from tasks.placement import Requirements, place

GPU = {"index": 0, "name": "Fake GPU", "uuid": "GPU-0", "total_bytes": 8 << 30, "used_bytes": 0,
       "free_bytes": 8 << 30, "utilization_percent": 0, "temperature_c": 40}
FLEETS = {  # name → [(worker, gpus, seconds since its heartbeat)]
    "nobody": [],
    "cpu worker": [("cpu-a", [], 0)],
    "busy gpu worker": [("gpu-a", [GPU], 0), ("cpu-a", [], 0)],
    "gpu worker gone silent": [("gpu-a", [GPU], 120)],
}


def _fleet(session, backend: str, fleet: list) -> None:  # noqa: ANN001
    session.execute(delete(Task)), session.execute(delete(Worker))
    for name, gpus, age in fleet:
        worker_queries.register_worker(session, name, host="h", backend=backend, queues=[], gpus=gpus)
        session.get(Worker, name).heartbeat_at = utcnow() - dt.timedelta(seconds=age)
        worker_queries.reserve_worker(session, name, "TASK-OTHER")  # busy: the task must wait


def _unsent_task(session, backend: str, device: str) -> None:  # noqa: ANN001
    now = utcnow()
    session.add(Task(id="T1", proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="GNN",
                     backend=backend, queue=backend, form={"requirements": {"device": device}},
                     status=TaskStatus.QUEUED.value, created_at=now, updated_at=now))


def test_unsent_tasks_count_where_placement_would_put_them(embedded_db, monkeypatch):
    from contracts.settings import reset_settings

    for auto_device, backend, device, fleet in itertools.product(
            ("any", "gpu"), ("torch", "mxnet"), ("auto", "gpu", "cpu"), FLEETS):
        monkeypatch.setenv("TRAINYARD_AUTO_DEVICE", auto_device)
        reset_settings()
        settings = get_settings()
        with session_scope() as session:
            _fleet(session, backend, FLEETS[fleet])
            _unsent_task(session, backend, device)
            session.flush()
            live = worker_queries.live_worker_slots(session, settings.lease_seconds, backend)
            placement = place(backend, Requirements(device=device), live,
                              auto_device=settings.auto_device_for(backend))
            gpu_pool, cpu_pool = {"torch": (Pool.TORCH_GPU, Pool.TORCH_CPU),
                                  "mxnet": (Pool.MXNET_GPU, Pool.MXNET)}[backend]
            expected = cpu_pool if placement.queue == backend else gpu_pool
            counted = {pool: pending_work(session, pool) for pool in Pool}
        case = f"auto_device={auto_device} {backend} device={device} fleet={fleet}: {placement}"
        assert counted == {pool: int(pool == expected) for pool in Pool}, case
