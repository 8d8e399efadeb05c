"""GET /gpu (MXServer's exact shape) and GET /api/v0/gpus, through a real stack: with the CPU
worker of this machine (no GPU: empty lists, never an error), then with worker rows carrying
GPU figures written through the DAO as a GPU worker's heartbeat writes them."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from dao import worker_queries
from dao.db import session_scope
from contracts.gpus import GpuState
from tests.service.stack import running_stack

pytestmark = pytest.mark.slow

GIB = 1024**3
A100 = GpuState(0, "NVIDIA A100-SXM4-40GB", "GPU-aaaa", 40 * GIB, 2 * GIB, 38 * GIB, 7, 41)
T4 = GpuState(1, "Tesla T4", "GPU-bbbb", 16 * GIB, 15 * GIB, 1 * GIB, None, None)


@pytest.fixture(scope="module")
def gstack():
    """SQLite + filesystem broker, the API and one CPU worker (no reaper)."""
    with running_stack("sqlite", workers=1, reaper=False) as s:
        yield s


def add_worker(name: str, gpus: list, task_id: str | None = None, host: str = "gpu-box") -> None:
    with session_scope() as session:
        worker_queries.register_worker(session, name, host=host, backend="mxnet", queues=["mxnet"],
                                       gpus=[g if isinstance(g, dict) else dataclasses.asdict(g) for g in gpus])
        if task_id:
            worker_queries.occupy_worker(session, name, task_id)


def drop_worker(name: str) -> None:
    with session_scope() as session:
        worker_queries.remove_worker(session, name)


def test_no_gpu_here_gives_empty_lists(gstack):
    r = gstack.get("/gpu")
    assert r.status_code == 200 and r.json() == []
    body = gstack.get("/api/v0/gpus").json()
    assert body["gpus"] == []
    mine = [w for w in body["workers"] if w["worker"].startswith("w0-")]
    assert len(mine) == 1 and mine[0]["gpus"] == [] and mine[0]["host"] == socket.gethostname()


def test_gpu_workers_in_mxserver_shape(gstack):
    add_worker("gpu-a", [A100], task_id="TASK_RUNNING_1")
    add_worker("gpu-b", [T4])
    try:
        shape = gstack.get("/gpu").json()
        assert shape == [
            {"free_mem": str(38 * GIB), "used_mem": str(2 * GIB), "total_mem": str(40 * GIB), "device_id": "0"},
            {"free_mem": str(1 * GIB), "used_mem": str(15 * GIB), "total_mem": str(16 * GIB), "device_id": "1"},
        ]
        assert all(isinstance(v, str) for entry in shape for v in entry.values())
        gpus = {g["uuid"]: g for g in gstack.get("/api/v0/gpus").json()["gpus"]}
        assert gpus["GPU-aaaa"]["task_id"] == "TASK_RUNNING_1" and gpus["GPU-aaaa"]["worker"] == "gpu-a"
        assert gpus["GPU-bbbb"]["task_id"] is None and gpus["GPU-bbbb"]["utilization_percent"] is None
        assert gpus["GPU-aaaa"]["free_bytes"] == 38 * GIB
    finally:
        drop_worker("gpu-a")
        drop_worker("gpu-b")


def test_one_gpu_shared_by_two_workers_is_listed_once_in_mxserver_shape(gstack):
    add_worker("gpu-c1", [A100])
    add_worker("gpu-c2", [A100])
    try:
        assert len(gstack.get("/gpu").json()) == 1
        assert len(gstack.get("/api/v0/gpus").json()["gpus"]) == 2
    finally:
        drop_worker("gpu-c1")
        drop_worker("gpu-c2")


def test_a_malformed_gpu_entry_is_skipped_not_an_error(gstack):
    add_worker("gpu-d", [{"index": 0, "bogus": True}, T4])
    try:
        r = gstack.get("/gpu")
        assert r.status_code == 200 and [e["device_id"] for e in r.json()] == ["1"]
    finally:
        drop_worker("gpu-d")
