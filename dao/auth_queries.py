"""Users, projects, memberships and API tokens. A token's secret is never stored: only its
SHA-256, which is what a request's bearer token is looked up by. Functions take the session and
never commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dao.errors import NotFound
from dao.tables import ApiToken, Dataset, Membership, Project, Role, ServedModel, Task, User, utcnow

TOKEN_PREFIX = "ty_"
ROLES = tuple(r.value for r in Role)


class ProjectNotFound(NotFound):
    def __init__(self, project_id: str):
        super().__init__(f"project {project_id!r} does not exist")
        self.project_id = project_id


class TokenNotFound(NotFound):
    def __init__(self, token_id: int):
        super().__init__(f"token {token_id} does not exist")


class UserNotFound(NotFound):
    def __init__(self, name: str):
        super().__init__(f"user {name!r} does not exist")


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Identity:
    """What a verified token says: who, which token, what it may touch. ``roles`` holds the
    user's memberships (a service admin's are implied for every project)."""

    user_id: int
    user_name: str
    is_admin: bool
    token_id: int
    token_name: str
    read_only: bool
    token_projects: frozenset[str] | None
    expires_at: dt.datetime | None
    roles: dict[str, str]


def verify(session: Session, secret: str, now: dt.datetime | None = None) -> Identity | None:
    """The identity of a live token (not revoked, not expired), else None."""
    now = now or utcnow()
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_secret(secret), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    token, user = row
    if token.expires_at is not None and _aware(token.expires_at) <= now:
        return None
    roles = dict(session.execute(select(Membership.project_id, Membership.role)
                                 .where(Membership.user_id == user.id)).all())
    return Identity(user.id, user.name, user.is_admin, token.id, token.name, token.read_only,
                    None if token.projects is None else frozenset(token.projects),
                    _aware(token.expires_at) if token.expires_at else None, roles)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def touch(session: Session, token_id: int, now: dt.datetime | None = None) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now or utcnow())
                    .execution_options(synchronize_session=False))


# -- users -------------------------------------------------------------------------------
def find_user(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).first()


def get_or_create_user(session: Session, name: str, is_admin: bool = False) -> User:
    user = find_user(session, name)
    if user is None:
        user = User(name=name, is_admin=is_admin)
        session.add(user)
        session.flush()
    elif is_admin and not user.is_admin:
        user.is_admin = True
    return user


def any_admin(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.is_admin.is_(True)).limit(1)) is not None


# -- tokens ------------------------------------------------------------------------------
def create_token(session: Session, user_id: int, name: str, *, projects: list[str] | None = None,
                 read_only: bool = False, expires_at: dt.datetime | None = None,
                 secret: str | None = None) -> tuple[ApiToken, str]:
    """A new token and its secret (returned once, never stored)."""
    secret = secret or new_secret()
    row = ApiToken(user_id=user_id, name=name, token_hash=hash_secret(secret),
                   projects=None if projects is None else sorted(set(projects)),
                   read_only=read_only, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, secret


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()


def list_tokens(session: Session, user_id: int | None = None) -> list[ApiToken]:
    stmt = select(ApiToken).order_by(ApiToken.id)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return list(session.scalars(stmt))


def get_token(session: Session, token_id: int) -> ApiToken:
    """Raises TokenNotFound."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise TokenNotFound(token_id)
    return row


def revoke(session: Session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()


# -- projects and members ----------------------------------------------------------------
def find_project(session: Session, project_id: str) -> Project | None:
    return session.get(Project, project_id)


def create_project(session: Session, project_id: str, name: str | None = None) -> Project:
    row = Project(id=project_id, name=name or project_id)
    session.add(row)
    session.flush()
    return row


def ensure_project(session: Session, project_id: str, name: str | None = None) -> None:
    """Create the project unless it exists; safe when concurrent requests create the same one
    (the loser's insert is undone to a savepoint and the winner's row stands)."""
    if session.get(Project, project_id) is not None:
        return
    try:
        with session.begin_nested():
            session.add(Project(id=project_id, name=name or project_id))
    except IntegrityError:
        pass


def list_projects(session: Session, ids: frozenset[str] | None = None) -> list[Project]:
    """Every project, or those named in ``ids``."""
    stmt = select(Project).order_by(Project.id)
    if ids is not None:
        stmt = stmt.where(Project.id.in_(sorted(ids)))
    return list(session.scalars(stmt))


def set_member(session: Session, project_id: str, user_id: int, role: str) -> None:
    row = session.get(Membership, (project_id, user_id))
    if row is None:
        session.add(Membership(project_id=project_id, user_id=user_id, role=role))
    else:
        row.role = role
    session.flush()


def remove_member(session: Session, project_id: str, user_id: int) -> bool:
    return bool(session.execute(delete(Membership).where(
        Membership.project_id == project_id, Membership.user_id == user_id)).rowcount)


def members(session: Session, project_id: str) -> list[dict[str, Any]]:
    rows = session.execute(select(User.id, User.name, Membership.role).join(Membership, Membership.user_id == User.id)
                           .where(Membership.project_id == project_id).order_by(User.name))
    return [{"user_id": i, "user": n, "role": r} for i, n, r in rows]


# -- which project a resource is in ------------------------------------------------------
MISSING = object()  # no such resource (the caller answers its own 404)


def project_of_task(session: Session, task_id: str) -> Any:
    found = session.execute(select(Task.proj_id).where(Task.id == task_id)).first()
    return MISSING if found is None else found[0]


def project_of_dataset(session: Session, name: str) -> Any:
    found = session.execute(select(Dataset.project_id).where(Dataset.name == name)).first()
    return MISSING if found is None else found[0]


def projects_of_datasets(session: Session, names: set[str]) -> dict[str, str | None]:
    """name → project (None: shared) of the named datasets that exist."""
    if not names:
        return {}
    return dict(session.execute(select(Dataset.name, Dataset.project_id).where(Dataset.name.in_(sorted(names)))).all())


def projects_of_tasks(session: Session, task_ids: set[str]) -> dict[str, str]:
    """task id → project of the named tasks that exist."""
    if not task_ids:
        return {}
    return dict(session.execute(select(Task.id, Task.proj_id).where(Task.id.in_(sorted(task_ids)))).all())


def projects_of_models(session: Session, names: set[str]) -> dict[str, str | None]:
    """name → project (None: shared) of the named models that exist (that of each one's first
    version, as ``project_of_model``)."""
    if not names:
        return {}
    rows = session.execute(select(ServedModel.name, ServedModel.project_id)
                           .where(ServedModel.name.in_(sorted(names))).order_by(ServedModel.id.desc()))
    return dict(rows.all())  # the lowest id of each name is written last


def project_of_model(session: Session, name: str) -> Any:
    """Every version of a name is in one project: that of its first version."""
    found = session.execute(select(ServedModel.project_id).where(ServedModel.name == name)
                            .order_by(ServedModel.id).limit(1)).first()
    return MISSING if found is None else found[0]


__all__ = ["Identity", "MISSING", "ProjectNotFound", "ROLES", "TokenNotFound", "UserNotFound", "any_admin",
           "create_project", "create_token", "ensure_project", "find_project", "find_user", "get_or_create_user", "get_token",
           "hash_secret", "list_projects", "list_tokens", "members", "new_secret", "project_of_dataset",
           "project_of_model", "project_of_task", "projects_of_datasets", "projects_of_models", "projects_of_tasks", "remove_member", "revoke", "set_member", "token_by_hash",
           "touch", "verify"]
