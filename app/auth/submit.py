"""What a submitted task names in its body, checked against the caller's projects: the project
it goes into (a service admin's submit to a new proj_id creates it), the task it fine-tunes or
evaluates, and its datasets. Anything the caller may not see reads as not existing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.audit import note_project
from webcommon.principal import Hidden, can_see, current, require
from webcommon.errors import ApiError
from dao import auth_queries
from dao.tables import Dataset, Task

Problems = list[tuple[str, str]]
_known: set[str] = set()  # projects seen to exist (projects are never deleted)


def project_for_submit(session: Session, proj_id: str, proj_name: str | None = None,
                       field: str = "proj_id") -> None:
    """The project a new object goes into, made when a service admin names a new one. Raises
    ApiError 422 naming ``field`` (a project the caller may not see or that does not exist),
    403 (a viewer, a read-only token)."""
    ident = current()
    note_project(proj_id)
    if proj_id not in _known and auth_queries.find_project(session, proj_id) is None:
        if ident.is_admin and (ident.token_projects is None or proj_id in ident.token_projects) \
                and not ident.read_only:
            auth_queries.ensure_project(session, proj_id, proj_name or proj_id)
            return
        raise _no_project(proj_id, field)
    if len(_known) < 100_000:
        _known.add(proj_id)
    try:
        require(proj_id, "write")
    except Hidden:
        raise _no_project(proj_id, field) from None


def _no_project(proj_id: str, field: str) -> ApiError:
    return ApiError(422, f"{field}: project {proj_id!r} does not exist or is not yours; ask a service "
                         "admin to create it (POST /api/v0/projects) or to add you to it",
                    [{"field": field, "problem": f"project {proj_id!r} does not exist or is not yours"}])


def visible_task(session: Session, task_id: str | None) -> Task | None:
    """The task of that id when the caller may see it; None when there is none or it is hidden,
    so that no message about it can tell the two apart."""
    task = session.get(Task, task_id) if task_id else None
    return task if task is not None and can_see(task.proj_id) else None


def visible_datasets(rows: dict[str, Dataset]) -> dict[str, Dataset]:
    """The rows the caller may see (its projects' and shared ones) of a name → dataset map."""
    return {name: row for name, row in rows.items() if can_see(row.project_id)}


def owner_for_upload(session: Session, proj_id: str | None) -> str | None:
    """The project an upload (dataset, ONNX model) goes into: the one named, else the caller's
    only writable project; a service admin's upload without one is shared (None). Raises
    ApiError 422 naming proj_id, 403."""
    ident = current()
    if proj_id:
        project_for_submit(session, proj_id)
        return proj_id
    if ident.is_admin and ident.token_projects is None:
        require(None, "write")
        return None
    writable = [p for p, role in ident.roles.items() if role in ("editor", "admin")
                and (ident.token_projects is None or p in ident.token_projects)]
    if ident.is_admin and ident.token_projects is not None:
        writable = sorted(ident.token_projects)
    if len(writable) == 1:
        note_project(writable[0])
    if len(writable) != 1:
        raise ApiError(422, "proj_id is required: name the project this upload belongs to",
                       [{"field": "proj_id", "problem": "is required (you can write to "
                                                        f"{len(writable)} projects)"}])
    require(writable[0], "write")
    return writable[0]
