"""What each pool's autoscaler sees, against the real PostgreSQL and Redis: known mixes of work
(CPU, GPU and auto torch tasks, with and without a live GPU worker; MXNet tasks; an image upload;
running, stopping and finished tasks) go in through the API and the dispatcher, then each
pool's KEDA trigger runs as KEDA runs it (the query text from k8s/keda/scaledobjects.yaml,
value / targetQueryValue rounded up, active above activationTargetQueryValue) and must equal
that pool's own pending work, as must dao.pending_work.pending_work().

Twice, on one stack: TRAINYARD_AUTO_DEVICE=gpu (k8s/configmap.yaml's value, so the manifest's
own queries run) and =any (the embedded default; its queries are what the code renders for it).
No worker processes: the worker rows, claims and finishes are the DAO calls a worker makes.
"""

from __future__ import annotations

import math
import signal

import psycopg
import pytest
import redis
from sqlalchemy import func, select

from dao import dataset_queries, task_queries, worker_queries
from dao.db import session_scope
from dao.pending_work import Pool, keda_query, pending_work
from contracts.settings import get_settings
from dao.tables import Dataset, Task
from contracts.statuses import DatasetStatus, TaskStatus
from models.mxnet_backend.demo import make_demo_images
from tasks.dispatch import dispatch_waiting
from tasks.placement import direct_queue
from tests.deploy.test_autoscaling import configmap_settings, scaled_pools
from tests.service.forms import form
from tests.service.stack import REDIS_URL, Stack, running_stack

MANIFEST = configmap_settings()
GIB = 1024**3
ACTIVE = [TaskStatus.QUEUED.value, TaskStatus.RUNNING.value, TaskStatus.STOPPING.value]
FAKE_GPU = {"index": 0, "name": "Fake GPU", "uuid": "GPU-fake-0", "total_bytes": 24 * GIB,
            "used_bytes": 0, "free_bytes": 24 * GIB, "utilization_percent": 0, "temperature_c": 40}


@pytest.fixture(scope="module")
def one_stack():
    """API + PostgreSQL + Redis, no workers, no reaper; the lease of k8s/configmap.yaml. The
    API does not remember "no GPU worker" (TRAINYARD_NO_GPU_MEMORY_SECONDS=0): a GPU worker that
    registers is seen by the next submit, not up to a second later."""
    env = {"TRAINYARD_AUTO_DEVICE": MANIFEST.auto_device, "TRAINYARD_LEASE_SECONDS": f"{MANIFEST.lease_seconds:g}",
           "TRAINYARD_NO_GPU_MEMORY_SECONDS": "0"}
    with running_stack(workers=0, reaper=False, env=env) as s:
        yield s


@pytest.fixture(params=["gpu", "any"])
def stack(one_stack, request):
    """The stack with TRAINYARD_AUTO_DEVICE set to the parameter (the API restarted for it)."""
    s = one_stack
    if s.env["TRAINYARD_AUTO_DEVICE"] != request.param:
        s.signal("api", signal.SIGTERM)
        s.env["TRAINYARD_AUTO_DEVICE"] = request.param
        s.spawn("api", "api")
        s.wait_http()
    s.apply_env()
    yield s
    with session_scope() as session:  # each run starts with no worker and no pending work
        worker_queries.remove_worker(session, "gpu-a")


def pool_triggers(auto_device: str) -> dict[Pool, list[dict]]:
    """Each pool's trigger metadata: the manifest's when its settings are these, else what the
    code renders for these settings (mxnet-gpu has no Deployment, so always rendered)."""
    if auto_device == MANIFEST.auto_device:
        triggers = {pool: [t["metadata"] for t in so["spec"]["triggers"]] for so, pool in scaled_pools().values()}
    else:
        triggers = {}
    settings = MANIFEST.model_copy(update={"auto_device": auto_device})
    for pool in Pool:
        triggers.setdefault(pool, [{"query": keda_query(pool, settings), "targetQueryValue": "1",
                                    "activationTargetQueryValue": "0"}])
    return triggers


def as_keda(s: Stack, triggers: list[dict]) -> tuple[int, bool]:
    """(replicas asked for, active), as KEDA and its HPA compute them from these triggers,
    before min/maxReplicaCount."""
    replicas, active = 0, False
    with psycopg.connect(s.env["TRAINYARD_DATABASE_URL"].replace("+psycopg", ""), autocommit=True) as conn:
        for meta in triggers:
            value = float(conn.execute(meta["query"]).fetchone()[0])
            replicas = max(replicas, math.ceil(value / float(meta["targetQueryValue"])))
            active = active or value > float(meta["activationTargetQueryValue"])
    return replicas, active


def assert_pools(s: Stack, expected: dict[Pool, int]) -> None:
    triggers = pool_triggers(s.env["TRAINYARD_AUTO_DEVICE"])
    seen = {pool: as_keda(s, triggers[pool]) for pool in Pool}
    assert seen == {pool: (n, n > 0) for pool, n in expected.items()}
    with session_scope() as session:
        assert {pool: pending_work(session, pool) for pool in Pool} == expected
        tasks = session.scalar(select(func.count()).select_from(Task).where(Task.status.in_(ACTIVE)))
        imports = session.scalar(select(func.count()).select_from(Dataset)
                                 .where(Dataset.status == DatasetStatus.VALIDATING.value))
    assert sum(expected.values()) == tasks + imports, "every pending task in exactly one pool"


def torch_task(s: Stack, device: str) -> str:
    return s.submit(form(epochs=1, requirements={"device": device}))


def mxnet_task(s: Stack, device: str | None) -> str:
    body = {"network": "small-cnn", "train_data": ["demo_shapes_28"], "num_epoch": 1, "batch_size": 16,
            "base_lr": 0.05}
    if device is not None:
        body["context"] = [{"device_name": device, "device_id": 0}]
    r = s.post("/train", json=body)
    assert r.status_code == 200, r.text
    return r.json()["task_id"]


def upload_images(s: Stack, name: str) -> None:
    blob = make_demo_images(per_class=2, seed=3).to_npz_bytes()
    r = s.post("/api/v0/datasets", files={"file": ("data.npz", blob)}, data={"kind": "image", "name": name})
    assert r.status_code == 202 and r.json()["dataset"]["status"] == "VALIDATING", r.text


def test_each_pool_counts_exactly_its_own_pending_work(stack):
    any_mode = get_settings().auto_device == "any"
    # No worker anywhere: GPU work waits unsent, CPU work sits in the shared queue.
    shared_list = redis.Redis.from_url(REDIS_URL)
    listed = shared_list.llen(stack.queue)  # a former run's messages, of tasks since finished
    cpu, gpu, auto = torch_task(stack, "cpu"), torch_task(stack, "gpu"), torch_task(stack, "auto")
    # What the GPU pool's old trigger watched: the shared list gets CPU work only.
    assert shared_list.llen(stack.queue) - listed == (2 if any_mode else 1)
    mx_cpu, mx_auto, mx_gpu = mxnet_task(stack, "cpu"), mxnet_task(stack, None), mxnet_task(stack, "gpu")
    images = f"waiting_images_{stack.env['TRAINYARD_AUTO_DEVICE']}"
    upload_images(stack, images)
    stopped = torch_task(stack, "cpu")
    assert stack.post(f"/api/v0/tasks/{stopped}/stop").json()["status"] == "STOPPED"
    expected = {Pool.TORCH_GPU: 1 if any_mode else 2, Pool.TORCH_CPU: 2 if any_mode else 1,
                Pool.MXNET: 3, Pool.MXNET_GPU: 1}
    assert_pools(stack, expected)

    # A GPU worker comes up; the dispatcher sends it the oldest GPU task. A new auto task now
    # wants a GPU in both modes (a live worker has one) and waits: the only GPU is taken.
    with session_scope() as session:
        worker_queries.register_worker(session, "gpu-a", host="node-1", backend="torch",
                                       queues=[direct_queue(stack.queue, "gpu-a")], gpus=[FAKE_GPU])
    dispatch_waiting()
    assert stack.task(gpu)["worker"] == "gpu-a"
    auto_with_gpu = torch_task(stack, "auto")
    assert "busy" in stack.task(auto_with_gpu)["waiting_reason"]
    expected[Pool.TORCH_GPU] += 1
    assert_pools(stack, expected)

    # Running and stopping tasks stay in their pool; finished ones and decided uploads leave it.
    with session_scope() as session:
        assert task_queries.claim_task(session, cpu, "cpu-a", "cpu")
        assert task_queries.claim_task(session, gpu, "gpu-a", "cuda")
        assert task_queries.claim_task(session, mx_cpu, "mx-a", "cpu")
    assert stack.post(f"/api/v0/tasks/{gpu}/stop").json()["status"] == "STOPPING"
    assert_pools(stack, expected)
    with session_scope() as session:
        assert task_queries.update_task_result(session, cpu, "cpu-a", {}, 1) == "SUCCEEDED"
        assert task_queries.mark_stopped(session, gpu, "gpu-a", None)
        assert task_queries.mark_failed(session, mx_cpu, "mx-a", "boom")
        assert dataset_queries.mark_dataset_rejected(session, images, ["not images"])
    expected[Pool.TORCH_CPU] -= 1
    expected[Pool.TORCH_GPU] -= 1
    expected[Pool.MXNET] -= 2
    assert_pools(stack, expected)

    # Nothing left: every pool inactive, so each may scale to zero.
    for task_id in (auto, auto_with_gpu, mx_auto, mx_gpu):
        assert stack.post(f"/api/v0/tasks/{task_id}/stop").json()["status"] == "STOPPED"
    assert_pools(stack, dict.fromkeys(Pool, 0))
