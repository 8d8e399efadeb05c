"""A result stored before contracts.task_result defined its shape (old key names, keys since
removed, no contract or splits) is still shown by the poll (light and full) and the listing,
sorts by its metrics, and fits the reply shapes the OpenAPI document is built from; on SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from app.api.task_poll import HEADLINE
from contracts import replies
from app.schemas.task_view import detail, light, summary
from dao import task_queries
from dao.tables import Task
from dao.task_listing import TaskFilter, list_tasks
from contracts.task_result import METRIC_FIELDS
from tests.app.test_listing_filters import session  # noqa: F401 - the SQLite/PostgreSQL fixture

OLD = {"test_accuracy": 0.7, "test_auc": 0.8, "epochs": 5, "epochs_done": 5, "notes": "an old row",
       "test": {"n": 10, "accuracy": 0.7, "auc": 0.8}, "final": {"epoch": 5, "val_loss": 0.6}}
NEW = {"test_accuracy": 0.9, "test_n": 10, "epochs_done": 3,
       "test": {"n": 10, "class_names": ["NC", "SZ"], "confusion_matrix": [[5, 0], [1, 4]]}}


def _add(session, task_id: str, result: dict | None) -> None:  # noqa: F811
    task_queries.insert_new_task(session, id=task_id, proj_id="P", proj_name="P", task_name=task_id,
                                 task_type="dl_ts", model="SGN", backend="torch", queue="q",
                                 form={"train_data": ["A"], "val_data": ["A"], "test_data": [], "param_set": {}})
    session.execute(update(Task).where(Task.id == task_id).values(status="SUCCEEDED", result=result,
                                                                  epochs_total=5, epochs_done=5))


def test_an_old_shaped_result_is_shown_by_the_poll_and_the_listing(session):  # noqa: F811
    _add(session, "OLD", OLD)
    _add(session, "NEW", NEW)
    _add(session, "NONE", None)
    session.flush()
    page = list_tasks(session, TaskFilter(), sort="-test_accuracy", sortable=METRIC_FIELDS)
    assert [t.id for t in page.tasks] == ["NEW", "OLD", "NONE"]
    row = {t.id: summary(t) for t in page.tasks}["OLD"]
    assert row.metrics.model_dump(exclude_unset=True) == {"test_accuracy": 0.7, "epochs_done": 5}  # not "test_auc"
    assert isinstance(row.metrics.epochs_done, int)
    replies.TaskSummary.model_validate(row.model_dump(exclude_unset=True))

    polled = task_queries.poll_row(session.connection(), "OLD", HEADLINE)
    view = light(polled, [], polled.headline or {}, None)
    assert view.metrics == row.metrics
    replies.TaskLight.model_validate(view.model_dump(exclude_unset=True))

    full = detail(session.get(Task, "OLD"), [], None)
    assert full.result == OLD  # the stored result as it is, old keys too
    replies.TaskFull.model_validate(full.model_dump(exclude_unset=True))
    replies.StoredTaskResult.model_validate(full.result)


def test_the_listing_sorts_by_the_result_metrics_and_nothing_else(session):  # noqa: F811
    assert set(HEADLINE) == METRIC_FIELDS
    for key in sorted(METRIC_FIELDS):
        list_tasks(session, TaskFilter(), sort=key, sortable=METRIC_FIELDS)
    for key in ("test_auc", "epochs", "contract", "notes"):
        with pytest.raises(ValueError, match="test_accuracy"):
            list_tasks(session, TaskFilter(), sort=key, sortable=METRIC_FIELDS)
