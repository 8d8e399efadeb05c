"""The pending work of each worker pool: what the dispatcher (tasks/placement.py) gives, or would
give, exactly that pool. One definition, two uses: ``pending_work()`` runs it in Python (for a
metric), ``keda_query()`` renders the very same statement as the PostgreSQL text that KEDA's
``postgresql`` triggers in k8s/keda/ run (a test checks the manifest holds exactly that text).

A task of a backend counts, while QUEUED, RUNNING or STOPPING, for one pool:

- running (RUNNING/STOPPING): the pool of the device it claimed (``cuda``/``gpu(0)``: GPU);
- queued and sent to one worker's own queue (``worker`` set): that is a GPU worker's queue;
- queued and sent to the backend's shared queue (no ``worker``): only CPU workers read it;
- queued and not sent (waiting for a GPU, or its publish failed): the pool placement would pick,
  a GPU when it asks for one, or asks for ``auto`` and either ``Settings.auto_device_for`` its
  backend is ``gpu`` or some live worker of its backend has a GPU.

Image uploads waiting for validation (VALIDATING datasets) count for the MXNet CPU pool: every
MXNet worker consumes the imports queue, and they need no GPU.
"""

from __future__ import annotations

import datetime as dt
import enum
import sys
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Text, and_, cast, exists, func, literal, literal_column, not_, or_, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from contracts.settings import Settings, get_settings
from dao.tables import Dataset, Task, Worker, utcnow
from contracts.statuses import DatasetStatus, TaskStatus

S = TaskStatus


class Pool(str, enum.Enum):
    TORCH_GPU = "torch-gpu"
    TORCH_CPU = "torch-cpu"
    MXNET = "mxnet"  # MXNet on CPUs, plus image imports
    MXNET_GPU = "mxnet-gpu"  # no Deployment in k8s/ runs it; listed so every task has a pool


@dataclass(frozen=True)
class _PoolShape:
    backend: str
    gpu: bool
    image_imports: bool


_SHAPES = {
    Pool.TORCH_GPU: _PoolShape("torch", gpu=True, image_imports=False),
    Pool.TORCH_CPU: _PoolShape("torch", gpu=False, image_imports=False),
    Pool.MXNET: _PoolShape("mxnet", gpu=False, image_imports=True),
    Pool.MXNET_GPU: _PoolShape("mxnet", gpu=True, image_imports=False),
}


def backend_of(pool: Pool) -> str:
    """The backend whose workers make up the pool."""
    return _SHAPES[pool].backend


def _live_gpu_worker(backend: str, cutoff: ColumnElement) -> ColumnElement[bool]:
    """Some live worker of the backend has a GPU (placement's ``auto`` test)."""
    return exists().where(Worker.backend == backend, Worker.heartbeat_at >= cutoff,
                          cast(Worker.gpus, Text) != "[]")


def _wants_gpu(backend: str, auto_device: str, cutoff: ColumnElement) -> ColumnElement[bool]:
    device = func.coalesce(Task.form[("requirements", "device")].as_string(), "auto")
    auto_gpu = true() if auto_device == "gpu" else _live_gpu_worker(backend, cutoff)
    return or_(device == "gpu", and_(device == "auto", auto_gpu))


def _on_gpu(shape: _PoolShape, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return condition if shape.gpu else not_(condition)


def _task_filter(shape: _PoolShape, auto_device: str, cutoff: ColumnElement) -> ColumnElement[bool]:
    running_on_gpu = or_(Task.device.like("cuda%"), Task.device.like("gpu%"))
    running = and_(Task.status.in_([S.RUNNING.value, S.STOPPING.value]),
                   _on_gpu(shape, func.coalesce(running_on_gpu, False)))
    queued = Task.status == S.QUEUED.value
    sent_to_one_worker = Task.worker.is_not(None)
    sent_to_shared = and_(Task.worker.is_(None), Task.published_at.is_not(None))
    unsent = and_(Task.worker.is_(None), Task.published_at.is_(None))
    waiting = and_(queued, or_(sent_to_one_worker if shape.gpu else sent_to_shared,
                               and_(unsent, _on_gpu(shape, _wants_gpu(shape.backend, auto_device, cutoff)))))
    return and_(Task.backend == shape.backend, or_(running, waiting))


def pending_statement(pool: Pool, settings: Settings, cutoff: ColumnElement) -> Select:
    """``SELECT <count>``: the pool's pending work; ``cutoff`` is the oldest heartbeat of a live
    worker, an SQL expression."""
    shape = _SHAPES[pool]
    auto_device = settings.auto_device_for(shape.backend)
    tasks = select(func.count()).select_from(Task).where(_task_filter(shape, auto_device, cutoff))
    if not shape.image_imports:
        return tasks
    imports = select(func.count()).select_from(Dataset).where(
        Dataset.status == DatasetStatus.VALIDATING.value)
    return select(tasks.scalar_subquery() + imports.scalar_subquery())


def pending_work(session: Session, pool: Pool, settings: Settings | None = None) -> int:
    """The number of tasks (and, for the MXNet pool, image imports) the pool has in hand or
    waiting for it; one pod of the pool per unit."""
    settings = settings or get_settings()
    cutoff = literal(utcnow() - dt.timedelta(seconds=settings.lease_seconds), Worker.heartbeat_at.type)
    return int(session.scalar(pending_statement(pool, settings, cutoff)) or 0)


def keda_query(pool: Pool, settings: Settings) -> str:
    """The pool's pending work as PostgreSQL text with every value inlined, for a KEDA
    ``postgresql`` trigger's ``query`` (KEDA passes no parameters)."""
    cutoff = literal_column(f"now() - interval '{settings.lease_seconds:g} seconds'")
    statement = pending_statement(pool, settings, cutoff)
    # "named" parameters: no escaping of "%" (the LIKE patterns) for a DB-API that never sees it.
    sql = statement.compile(dialect=postgresql.dialect(paramstyle="named"),
                            compile_kwargs={"literal_binds": True})
    return "\n".join(line.rstrip() for line in str(sql).splitlines())


def main(argv: list[str]) -> int:
    """``python -m dao.pending_work [POOL]``: print the KEDA query of a pool (all by default)
    for the settings in the environment (TRAINYARD_AUTO_DEVICE, TRAINYARD_LEASE_SECONDS)."""
    pools = [Pool(name) for name in argv] or list(Pool)
    for pool in pools:
        print(f"-- {pool.value}\n{keda_query(pool, get_settings())}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
