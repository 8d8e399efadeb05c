"""Liveness (/ping, as the model servers had it) and readiness (/healthz)."""

from flask import Blueprint
from sqlalchemy import text

from dao.db import session_scope
from tasks.publish import broker_reachable
from contracts import replies as r
from webcommon.openapi.common import HEALTH
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("health", __name__)


@bp.get("/ping")
@documented(Op("Liveness: answers without the database", HEALTH, {200: r.Ping}, open=True, database=False))
def ping():
    return r.Ping(health="healthy!")


@bp.get("/healthz")
@documented(Op("Readiness: the database and the broker", HEALTH, {200: r.Health, 503: r.Health}, open=True,
                database=False))
def healthz():
    checks = {"database": _database_ok(), "broker": broker_reachable()}
    healthy = all(checks.values())
    payload = r.Health(status="ok" if healthy else "unavailable",
                       checks={k: "ok" if v else "unreachable" for k, v in checks.items()})
    return payload, 200 if healthy else 503


def _database_ok() -> bool:
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
