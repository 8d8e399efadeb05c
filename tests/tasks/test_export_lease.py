"""An export is held by the worker running it, with a heartbeat: a second message for a model a
live worker holds does nothing, and the reaper sends again the export of a worker that stopped
beating (killed mid-export), once, judged by a clock the test moves. Real SQLite database, real
filesystem broker."""

from __future__ import annotations

import datetime as dt

from contracts.settings import get_settings
from dao import model_queries, task_queries
from dao.db import session_scope
from dao.tables import ServedModel, utcnow
from tasks.publish import broker_queue_depth
from tasks.reaper import reap_once
from tests.service.forms import form


def _exporting_model() -> int:
    with session_scope() as s:
        task_id = task_queries.insert_new_task(
            s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN", backend="torch",
            queue="torch", form=form(), status="SUCCEEDED")
        return model_queries.register(s, model_queries.Registration(
            name="m", version=None, source_kind="task", source_task_id=task_id)).id


def _claim(model_id: int, worker: str, now: dt.datetime | None = None) -> bool:
    stale_before = (now or utcnow()) - dt.timedelta(seconds=get_settings().lease_seconds)
    with session_scope() as s:
        return model_queries.claim_export(s, model_id, worker, stale_before)


def _holder(model_id: int) -> str | None:
    with session_scope() as s:
        return s.get(ServedModel, model_id).exporter


def _later(seconds: float) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=seconds)


def test_a_live_workers_export_is_its_own_and_is_not_sent_again(embedded_db):
    model_id = _exporting_model()
    assert _claim(model_id, "w1") and not _claim(model_id, "w2")
    with session_scope() as s:
        assert model_queries.export_heartbeat(s, model_id, "w1")
        assert not model_queries.export_heartbeat(s, model_id, "w2")
    assert reap_once(broker_lost=False).exports == []
    assert reap_once(broker_lost=False, now=_later(get_settings().lease_seconds - 1)).exports == []
    assert _holder(model_id) == "w1"


def test_the_export_of_a_worker_that_stopped_beating_is_sent_again_once(embedded_db):
    model_id = _exporting_model()
    assert _claim(model_id, "w1")
    lease = get_settings().lease_seconds
    report = reap_once(broker_lost=False, now=_later(lease + 1))
    assert report.exports == [model_id]
    assert broker_queue_depth(get_settings().torch_queue) == 1
    assert _holder(model_id) is None
    assert reap_once(broker_lost=False, now=_later(lease + 2)).exports == []  # handed back: not again
    assert _claim(model_id, "w2") and _holder(model_id) == "w2"


def test_a_worker_may_take_over_a_stale_hold_itself(embedded_db):
    model_id = _exporting_model()
    assert _claim(model_id, "w1")
    assert _claim(model_id, "w2", now=_later(get_settings().lease_seconds + 1))
    assert _holder(model_id) == "w2"


def test_a_broker_that_lost_its_data_gets_every_untaken_export_again(embedded_db):
    model_id = _exporting_model()
    assert reap_once(broker_lost=False).exports == []
    assert reap_once(broker_lost=True).exports == [model_id]
