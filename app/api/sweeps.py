"""A sweep: its tasks and its selection record (the task chosen on validation, from how many)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.api.requests import bad_query
from app.schemas.task_view import iso
from app.usecases.sweep_selection import MixedSweep, choose, reported_test, score
from contracts.selection import DEFAULT_METRIC, metric_problem
from dao import sweep_queries, task_queries
from dao.db import session_scope
from webcommon.errors import ApiError
from webcommon.principal import visible_projects

bp = Blueprint("sweeps", __name__, url_prefix="/api/v0")


@bp.get("/sweeps/<sweep_id>")
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
        tasks = [{"task_id": r.id, "task_name": r.task_name, "status": r.status, "params": r.params or {},
                  "created_at": iso(r.created_at), "score": score(r)} for r in rows]
        return jsonify({"sweep_id": sweep_id, "tasks": tasks, "selection": selection})
