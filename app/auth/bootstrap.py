"""The service admin, made on the first start (``start.sh migrate``, before any API process).

``TRAINYARD_ADMIN_TOKEN`` set: the admin user exists and that secret is one of its tokens (CI,
Kubernetes Secrets). Unset: the first start creates the admin with a new token and writes it to
``var/admin-token`` (mode 0600), once; later starts say where it is.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dao import auth_queries
from dao.db import session_scope
from contracts.settings import get_settings

log = logging.getLogger(__name__)
ADMIN_NAME = "admin"
ENV_TOKEN_NAME = "TRAINYARD_ADMIN_TOKEN"


def token_file() -> Path:
    return (get_settings().var_dir / "admin-token").resolve()


def ensure_admin() -> str:
    """Make the admin (and its token) if needed; returns a line saying where its token is."""
    settings = get_settings()
    if settings.auth == "off":
        return "TRAINYARD_AUTH=off: no token is checked (use it only on a trusted network)"
    if settings.admin_token:
        return _from_env(settings.admin_token)
    path = token_file()
    with session_scope() as session:
        if auth_queries.any_admin(session):
            where = f"in {path}" if path.exists() else "where the first start wrote it (var/admin-token)"
            return f"the admin's token is {where}"
        user = auth_queries.get_or_create_user(session, ADMIN_NAME, is_admin=True)
        _token, secret = auth_queries.create_token(session, user.id, "first start")
        _write_private(path, secret)
    return f"created the service admin; its token is in {path} (mode 0600)"


def _from_env(secret: str) -> str:
    with session_scope() as session:
        user = auth_queries.get_or_create_user(session, ADMIN_NAME, is_admin=True)
        if auth_queries.token_by_hash(session, auth_queries.hash_secret(secret)) is None:
            auth_queries.create_token(session, user.id, ENV_TOKEN_NAME, secret=secret)
    return "the admin's token is TRAINYARD_ADMIN_TOKEN"


def _write_private(path: Path, secret: str) -> None:
    """Created with mode 0600 from the start (never readable by others, not even briefly);
    an existing file is never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
