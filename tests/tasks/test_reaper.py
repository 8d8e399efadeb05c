"""The lease reaper against a real (SQLite) database and a real (filesystem) broker."""

from __future__ import annotations

import datetime as dt

from dao import task_queries
from contracts.settings import get_settings
from dao.db import session_scope
from dao.tables import Task, utcnow
from tasks.publish import broker_queue_depth
from tasks.reaper import reap_once
from tests.service.forms import form


def _task(status: str, attempt: int = 1, beat_ago: float | None = None, published: bool = True) -> str:
    with session_scope() as s:
        return task_queries.insert_new_task(
            s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN",
            backend="torch", queue="torch", form=form(), status=status, attempt=attempt,
            worker="gone@host" if status in ("RUNNING", "STOPPING") else None,
            heartbeat_at=None if beat_ago is None else utcnow() - dt.timedelta(seconds=beat_ago),
            published_at=utcnow() if published else None)


def _get(task_id: str) -> Task:
    with session_scope() as s:
        return task_queries.get_task(s, task_id)


def test_orphaned_running_task_is_requeued_and_published(embedded_db, caplog):
    task_id = _task("RUNNING", attempt=1, beat_ago=120)
    with caplog.at_level("WARNING", logger="tasks.reaper"):
        report = reap_once()
    assert f"task {task_id}: worker gone@host lost its lease; now QUEUED" in caplog.text
    task = _get(task_id)
    assert report.requeued == [task_id] and task_id in report.published
    assert (task.status, task.attempt, task.worker) == ("QUEUED", 2, None)
    assert broker_queue_depth("torch") == 1


def test_orphan_past_max_attempts_fails_with_a_message(embedded_db):
    task_id = _task("RUNNING", attempt=3, beat_ago=120)
    assert reap_once().failed == [task_id]
    task = _get(task_id)
    assert task.status == "FAILED" and "3 times (last: gone@host)" in task.error


def test_orphaned_stop_finishes_as_stopped(embedded_db):
    task_id = _task("STOPPING", beat_ago=120)
    assert reap_once().stopped == [task_id]
    assert _get(task_id).status == "STOPPED"


def test_fresh_lease_is_left_alone(embedded_db):
    task_id = _task("RUNNING", beat_ago=1)
    report = reap_once()
    assert not report.requeued and _get(task_id).status == "RUNNING"


def test_unpublished_task_is_published(embedded_db):
    task_id = _task("QUEUED", published=False)
    assert reap_once().published == [task_id]
    assert _get(task_id).published_at is not None
    assert broker_queue_depth("torch") == 1


def _later(seconds: float) -> dt.datetime:
    """A sweep's "now" this far ahead: the test moves the reaper's clock instead of waiting."""
    return utcnow() + dt.timedelta(seconds=seconds)


def test_an_expired_lease_is_judged_by_the_sweeps_clock(embedded_db):
    task_id = _task("RUNNING", beat_ago=0)  # lease 30 s (embedded_db)
    assert reap_once(now=_later(29)).requeued == []
    assert reap_once(now=_later(31)).requeued == [task_id]


def test_lost_messages_are_published_again(embedded_db):
    after = get_settings().requeue_after_seconds  # the default, 60 s
    task_id = _task("QUEUED", published=True)  # marked published, but no message exists
    assert broker_queue_depth("torch") == 0
    assert reap_once().published == [], "a message younger than requeue_after may still be on its way"
    assert reap_once(now=_later(after + 1)).published == [task_id]
    assert broker_queue_depth("torch") == 1
    assert reap_once(now=_later(after + 1)).published == [], "a queue that holds its messages is left alone"


def test_image_upload_whose_import_message_was_lost_is_sent_again(embedded_db):
    from dao.dataset_queries import insert_dataset

    after = get_settings().requeue_after_seconds
    with session_scope() as s:
        insert_dataset(s, "pictures", "image", {}, b"raw upload", status="VALIDATING")
    assert reap_once().imports == []
    assert reap_once(now=_later(after + 1)).imports == ["pictures"]
    assert broker_queue_depth("mxnet.imports") == 1
    assert reap_once(now=_later(after + 1)).imports == []


def test_task_in_a_shared_queue_only_gpu_workers_ignore_is_redispatched(embedded_db):
    from dao import worker_queries

    # requeue_after shorter than the 30 s lease: the GPU worker that registers now is still
    # live when the task's message counts as stale.
    settings = get_settings().model_copy(update={"requeue_after_seconds": 20.0})
    task_id = _task("QUEUED", published=True)  # sent to "torch" when no GPU worker was up
    gpu = {"index": 0, "name": "GPU", "uuid": "u0", "total_bytes": 8 << 30, "used_bytes": 0,
           "free_bytes": 8 << 30, "utilization_percent": 0, "temperature_c": 40}
    with session_scope() as s:
        worker_queries.register_worker(s, "g0@host", host="host", backend="torch",
                                       queues=["torch.w.g0@host"], gpus=[gpu])
    assert task_id not in reap_once(settings).published
    assert task_id in reap_once(settings, now=_later(21)).published
    task = _get(task_id)
    assert task.worker == "g0@host" and broker_queue_depth("torch.w.g0@host") == 1
