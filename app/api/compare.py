"""GET /api/v0/compare?ids=A,B[,...]: tasks side by side with paired tests (app.usecases.comparison).

The ids are in the query, so the guard sees no task to check: each is read here and a task of a
project the caller may not see is answered as GET /api/v0/tasks/<id> answers it, not found.
"""

from __future__ import annotations

from flask import Blueprint, request

from app.api.requests import bad_query
from app.auth.resources import TASK
from app.usecases.comparison import comparison
from dao import task_queries
from dao.db import session_scope
from webcommon.guard import authorize
from contracts import replies as r
from webcommon.openapi.common import TASKS
from webcommon.openapi.spec_types import Op, Param, documented, string

bp = Blueprint("compare", __name__, url_prefix="/api/v0")
MAX_IDS = 20


def _ids() -> list[str]:
    ids = [part.strip() for part in (request.args.get("ids") or "").split(",") if part.strip()]
    if len(ids) < 2:
        raise bad_query("ids", "must name at least two task ids, comma-separated")
    if len(ids) > MAX_IDS:
        raise bad_query("ids", f"names {len(ids)} tasks; at most {MAX_IDS}")
    twice = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
    if twice is not None:
        raise bad_query("ids", f"names {twice} twice")
    return ids


def _visible(session, task_id: str) -> dict:  # noqa: ANN001
    """The task's fields the comparison reads. Raises TaskNotFound, also for a hidden one."""
    authorize(TASK, task_id, "read")
    task = task_queries.get_task(session, task_id)
    return {"task_id": task.id, "task_name": task.task_name, "model": task.model, "status": task.status,
            "result": task.result}


@bp.get("/compare")
@documented(Op(
    "Tasks side by side: metrics with their intervals, paired tests of every pair tested on the same subjects",
    TASKS, {200: r.Comparison}, (400, 404),
    query=(Param("ids", string(), required=True, description="2 to 20 task ids, comma-separated"),),
    description="Accuracy: McNemar's exact test; balanced accuracy and ROC AUC: a paired bootstrap over the "
                "subjects (2,000 resamples, seeded). With two or more pairable pairs, p_value_holm is Holm's "
                "correction. A task the caller may not see is 404, as on /api/v0/tasks/{task_id}."))
def compare():
    ids = _ids()
    with session_scope() as session:
        tasks = [_visible(session, task_id) for task_id in ids]
    return r.Comparison.model_validate(comparison(tasks))  # computed after the session is given back
