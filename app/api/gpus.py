"""The GPU fleet as the workers report it (the ``workers`` table; the API reads no NVML itself):
``GET /api/v0/gpus`` every live worker with its GPUs and the task it runs, and ``GET /gpu`` in
MXServer's exact shape (every figure a string; ``[]`` when no live worker has a GPU, and no task
named). The task a worker runs is named only to a caller who may see its project (the service
admin sees all); to anyone else the worker shows ``current_task_id`` null, as if idle."""

from __future__ import annotations

import logging

from flask import Blueprint

from app.schemas.task_view import iso
from dao import auth_queries, worker_queries
from dao.db import session_scope
from contracts.settings import get_settings
from dao.tables import Worker
from contracts.gpus import GpuState, to_mxserver_shape
from webcommon.principal import can_see, visible_projects
from contracts import replies as r
from webcommon.openapi.common import FLEET, MX
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("gpus", __name__)
log = logging.getLogger(__name__)


def _live() -> list[Worker]:
    with session_scope() as session:
        return worker_queries.live_workers(session, get_settings().lease_seconds)


def _live_and_shown() -> tuple[list[Worker], set[str]]:
    """The live workers and the ids of the tasks they run that the caller may see (a task
    without a row is hidden)."""
    with session_scope() as session:
        workers = worker_queries.live_workers(session, get_settings().lease_seconds)
        running = {w.current_task_id for w in workers if w.current_task_id}
        if visible_projects() is None:
            return workers, running
        projects = auth_queries.projects_of_tasks(session, running)
        return workers, {task_id for task_id, project in projects.items() if can_see(project)}


def _states(worker: Worker) -> list[GpuState]:
    """The worker's GPU dicts as GpuState; a malformed entry is logged and skipped."""
    out = []
    for raw in worker.gpus or []:
        try:
            out.append(GpuState(**raw))
        except TypeError as exc:
            log.warning("worker %s reported a malformed GPU entry %r: %s", worker.name, raw, exc)
    return out


def _worker_view(worker: Worker, shown: set[str]) -> r.WorkerView:
    task_id = worker.current_task_id if worker.current_task_id in shown else None
    return r.WorkerView(worker=worker.name, host=worker.host, backend=worker.backend, queues=worker.queues,
                        current_task_id=task_id, heartbeat_at=iso(worker.heartbeat_at),
                        gpus=[r.Gpu(**vars(g), task_id=task_id) for g in _states(worker)])


@bp.get("/api/v0/gpus")
@documented(Op("Live workers and their GPUs", FLEET, {200: r.Fleet}))
def list_gpus():
    live, shown = _live_and_shown()
    workers = [_worker_view(w, shown) for w in live]
    gpus = [r.FleetGpu(**dict(g), worker=w.worker, host=w.host) for w in workers for g in w.gpus]
    return r.Fleet(gpus=gpus, workers=workers)


@bp.get("/gpu")
@documented(Op("GPUs in MXServer's shape", MX, {200: r.MxGpus}))
def mxserver_gpu():
    """One entry per physical GPU (two workers pinned to one GPU report it once)."""
    seen, states = set(), []
    for worker in _live():
        for gpu in _states(worker):
            key = (worker.host, gpu.uuid or gpu.index)
            if key not in seen:
                seen.add(key)
                states.append(gpu)
    return r.MxGpus(to_mxserver_shape(states))
