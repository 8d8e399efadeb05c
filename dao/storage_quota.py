"""A project's storage quota (``projects.max_storage_mb``; None: no limit): the bytes its
datasets, its models' ONNX files and its tasks' artifacts (weights, checkpoints, pictures) hold,
from their ``size`` / ``onnx_size`` columns (set whenever a blob is stored, so no blob is read).
Uploads ask ``refusal`` before storing; a task's artifacts are never refused (they count)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dao.tables import Dataset, Project, ServedModel, Task, TaskArtifact

MB = 1024 * 1024


def used_bytes(session: Session, project_id: str) -> int:
    datasets = select(func.coalesce(func.sum(Dataset.size), 0)).where(Dataset.project_id == project_id)
    models = select(func.coalesce(func.sum(ServedModel.onnx_size), 0)).where(ServedModel.project_id == project_id)
    artifacts = (select(func.coalesce(func.sum(TaskArtifact.size), 0))
                 .join(Task, Task.id == TaskArtifact.task_id).where(Task.proj_id == project_id))
    return sum(int(session.scalar(stmt)) for stmt in (datasets, models, artifacts))


def refusal(session: Session, project_id: str | None, needed: int) -> str | None:
    """Why ``needed`` more bytes may not be stored in the project, or None. Locks the project
    row until the caller's transaction ends, so concurrent uploads into one project are counted
    one after another (the caller inserts in the same transaction)."""
    if project_id is None:
        return None
    quota = session.scalar(select(Project.max_storage_mb).where(Project.id == project_id).with_for_update())
    if quota is None:
        return None
    used = used_bytes(session, project_id)
    if used + needed <= quota * MB:
        return None
    return (f"project {project_id!r} is over its storage quota (max_storage_mb={quota} MiB): "
            f"it stores {used} bytes and this upload needs {needed} more")
