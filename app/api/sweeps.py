"""A sweep: its tasks and its selection record (the task chosen on validation, from how many)."""

from __future__ import annotations

from flask import Blueprint, request

from app.api.requests import bad_query
from app.schemas.task_view import iso
from app.usecases.sweep_selection import MixedSweep, choose, reported_test, score
from contracts.selection import DEFAULT_METRIC, metric_problem
from dao import sweep_queries, task_queries
from dao.db import session_scope
from webcommon.errors import ApiError
from webcommon.principal import visible_projects
from contracts import replies as r
from contracts.selection import VALIDATION_METRICS
from webcommon.openapi.common import TASKS
from webcommon.openapi.spec_types import Op, Param, choice, documented

bp = Blueprint("sweeps", __name__, url_prefix="/api/v0")


@bp.get("/sweeps/<sweep_id>")
@documented(Op(
    "A sweep's tasks and its selection record: the task chosen on validation, from how many", TASKS,
    {200: r.Sweep}, (400, 404, 409),
    query=(Param("metric", choice(*sorted(VALIDATION_METRICS)),
                 description=f"what the choice is made on ({DEFAULT_METRIC} by default; a loss is "
                             "minimised, a score maximised); a test metric is refused"),),
    description="Only the caller's tasks count; a sweep with none of them is 404. 409: the sweep mixes "
                "cross-validated and single-split tasks."))
def show_sweep(sweep_id: str):
    metric = request.args.get("metric") or DEFAULT_METRIC
    problem = metric_problem(metric)
    if problem:
        raise bad_query("metric", problem)
    with session_scope() as session:
        # Only the caller's visible tasks count: a sweep of another project's is as unknown as a made-up one.
        rows = sweep_queries.sweep_tasks(session, sweep_id, metric, visible_projects())
        if not rows:
            raise ApiError(404, f"sweep {sweep_id!r} not found")
        try:
            selection = choose(rows, metric)
        except MixedSweep as exc:
            raise ApiError(409, str(exc)) from None
        chosen = selection["chosen_task_id"]
        selection["chosen_test"] = None if chosen is None else \
            reported_test(task_queries.get_task(session, chosen).result)
        tasks = [r.SweepTask(task_id=t.id, task_name=t.task_name, status=t.status, params=t.params or {},
                             created_at=iso(t.created_at), score=score(t)) for t in rows]
        return r.Sweep(sweep_id=sweep_id, tasks=tasks, selection=selection)
