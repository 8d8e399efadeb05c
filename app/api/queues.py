"""GET /api/v0/queues: each queue's depth (what the metrics export as trainyard_queue_depth),
split into waiting and held tasks, the pending work of each worker pool of its backend (what
KEDA scales on, ``dao/pending_work.py``), and the tasks workers hold (``held``), for the
dashboard's fleet page. The counts are the shared fleet's; ``held`` names only tasks of projects
the caller may see."""

from __future__ import annotations

from flask import Blueprint

from webcommon.principal import visible_projects
from dao.db import session_scope
from dao.pending_work import Pool, backend_of, pending_work
from dao.queue_summary import held_tasks, status_counts
from contracts import replies as r
from webcommon.openapi.common import FLEET
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("queues", __name__, url_prefix="/api/v0")


@bp.get("/queues")
@documented(Op("Each queue's depth, its pools' pending work, the tasks workers hold", FLEET, {200: r.Queues}))
def list_queues():
    with session_scope() as session:
        counts = status_counts(session)
        visible = visible_projects()
        held = [r.HeldTask(task_id=t, worker=w, device=d, queue=q, status=s)
                for t, w, d, q, s, p in held_tasks(session) if visible is None or p in visible]
        pools: dict[str, dict[str, int]] = {}
        for pool in Pool:
            pools.setdefault(backend_of(pool), {})[pool.value] = pending_work(session, pool)
    rows = []
    for (queue, backend), by_status in sorted(counts.items()):
        queued = by_status.get("QUEUED", 0)
        depth = sum(by_status.values())
        rows.append(r.QueueView(queue=queue, backend=backend, depth=depth, queued=queued,
                                running=depth - queued, pools=pools.get(backend, {})))
    return r.Queues(queues=rows, held=held)
