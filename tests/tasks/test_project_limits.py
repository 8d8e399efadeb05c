"""Per-project limits where the dispatcher places work (tasks/dispatch.py), and queued work of
projects taking turns, under a burst from two projects; on the embedded SQLite, through the
real placement, reservation and publish code (the filesystem broker takes the messages)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from dao import auth_queries, project_limits, worker_queries
from dao.db import session_scope
from dao.tables import Project, Task
from contracts.statuses import TaskStatus
from tasks.dispatch import dispatch_waiting, queue_new_task, send
from tests.tasks.test_pending_work_placement import GPU

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _submit(project: str, n: int, device: str = "cpu") -> list[str]:
    ids = []
    for _ in range(n):
        with session_scope() as session:
            task_id, sendable, _ = queue_new_task(
                session, proj_id=project, proj_name=project, task_name="t", task_type="dl_ts", model="GNN",
                backend="torch", queue="torch", form={"requirements": {"device": device}}, epochs_total=1)
        if sendable is not None:
            assert send(sendable)
        ids.append(task_id)
    return ids


def _projects(**limits: tuple[int | None, int | None]) -> None:
    with session_scope() as session:
        for project, (running, gpus) in limits.items():
            auth_queries.create_project(session, project)
            session.get(Project, project).max_running, session.get(Project, project).max_gpus = running, gpus
            project_limits.forget(project)  # this process may remember a previous test's project


def _sent(project: str) -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(Task.id).where(Task.proj_id == project, Task.published_at.is_not(None),
                                                          Task.status == TaskStatus.QUEUED.value)
                                    .order_by(Task.published_at, Task.id)))


def _finish(task_ids: list[str]) -> None:
    with session_scope() as session:
        session.execute(update(Task).where(Task.id.in_(task_ids))
                        .values(status=TaskStatus.SUCCEEDED.value, finished_at=T0))
        session.execute(update(worker_queries.Worker).values(current_task_id=None))


def test_a_burst_runs_no_more_than_each_projects_limit(embedded_db):
    _projects(P1=(2, None), P2=(1, None))
    p1, p2 = _submit("P1", 6), _submit("P2", 3)
    assert _sent("P1") == p1[:2] and _sent("P2") == p2[:1]
    with session_scope() as session:
        reason = session.get(Task, p1[2]).waiting_reason
    assert reason == "waiting for project 'P1': 2 of its 2 tasks at once are running"
    assert dispatch_waiting() == []  # nothing frees, nothing more goes
    _finish(p1[:1] + p2[:1])
    assert sorted(dispatch_waiting()) == sorted([p1[2], p2[1]])
    assert _sent("P1") == [p1[1], p1[2]] and _sent("P2") == [p2[1]]


def test_gpus_held_are_limited_and_freed_gpus_go_to_the_projects_in_turn(embedded_db):
    _projects(P1=(None, 1), P2=(None, 1))
    with session_scope() as session:
        for i in range(2):
            worker_queries.register_worker(session, f"gpu-{i}", host="h", backend="torch", queues=[], gpus=[GPU])
    early = _submit("P1", 4, device="gpu")  # P1's burst first: it takes one GPU, not both
    late = _submit("P2", 2, device="gpu")
    assert _sent("P1") == early[:1] and _sent("P2") == late[:1]
    with session_scope() as session:
        assert "holds 1 of its 1 GPUs" in session.get(Task, early[1]).waiting_reason
    order = []
    for _ in range(4):  # each round both GPUs free: the next of each project goes, oldest first
        _finish(_sent("P1") + _sent("P2"))
        order.append(sorted(dispatch_waiting()))
    assert order == [sorted([early[1], late[1]]), [early[2]], [early[3]], []]


def test_without_limits_waiting_work_is_dispatched_projects_in_turn(embedded_db):
    """One GPU, no limits: a freed GPU goes to the project whose turn it is, not to the oldest
    task of the project that queued a burst."""
    with session_scope() as session:
        worker_queries.register_worker(session, "gpu-0", host="h", backend="torch", queues=[], gpus=[GPU])
    burst = _submit("P1", 4, device="gpu")
    other = _submit("P2", 2, device="gpu")
    ran = [burst[0]]
    for _ in range(5):
        _finish(ran[-1:])
        ran += dispatch_waiting()
    assert ran == [burst[0], other[0], burst[1], other[1], burst[2], burst[3]]
