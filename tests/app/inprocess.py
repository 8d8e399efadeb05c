"""The API app in this test process: Flask's test client on a migrated PostgreSQL database of
its own and the test Redis, no gunicorn and no worker. For routes, validation and access, where
a process boundary is not the point; rows a worker would write are written with the DAO."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tests.service.stack import Stack


class InProcess:
    def __init__(self, stack: Stack):
        from app import create_app

        self.stack = stack
        self.app = create_app()
        self.client = self.app.test_client()

    def request(self, method: str, path: str, headers: dict | None = None, **kw):  # noqa: ANN201 - a TestResponse
        return self.client.open(path, method=method, headers={**self.stack.headers, **(headers or {})}, **kw)

    def get(self, path: str, **kw):  # noqa: ANN201
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw):  # noqa: ANN201
        return self.request("POST", path, **kw)

    def project(self, project_id: str) -> None:
        r = self.post("/api/v0/projects", json={"id": project_id, "name": f"project {project_id}"})
        assert r.status_code == 201, r.text

    def member_token(self, project: str, user: str, role: str) -> dict:
        """Headers carrying a token of a new member ``user`` of ``project`` in ``role``."""
        r = self.post(f"/api/v0/projects/{project}/members", json={"user": user, "role": role})
        assert r.status_code == 201, r.text
        r = self.post("/api/v0/tokens", json={"user": user, "name": f"{user}'s"})
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json['secret']}"}

    def audit(self) -> list[dict]:
        """The audit log once this process's queued entries are written."""
        from app.auth import audit

        audit.flush()
        return self.get("/api/v0/audit", query_string={"limit": 1000}).json["entries"]


@contextlib.contextmanager
def in_process_api(env: dict[str, str] | None = None) -> Iterator[InProcess]:
    stack = Stack("pg-redis", {"TRAINYARD_TOKEN_CACHE_SECONDS": "0", **(env or {})})
    try:
        stack._migrate_postgres()
        stack.apply_env()
        yield InProcess(stack)
    finally:
        from app.auth import audit

        audit.flush()  # before its database goes
        stack.stop()
