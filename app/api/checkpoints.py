"""The checkpoints an MXNet task kept, one every ``save_period`` epochs (MXServer's
``prefix-epoch.params``): listed, and downloaded by epoch. /eval evaluates one by
``test_param.ckp {prefix, epoch}``; /train continues one by ``resume_config``."""

from __future__ import annotations

from flask import Blueprint

from webcommon.errors import ApiError
from dao import artifact_queries, task_queries
from dao.db import session_scope
from contracts import replies as r
from app.api.downloads import REDIRECT_DESCRIPTION, REDIRECT_PARAM, artifact_download
from webcommon.openapi.common import BINARY, REDIRECT, TASKS
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("checkpoints", __name__, url_prefix="/api/v0/tasks")


@bp.get("/<task_id>/checkpoints")
@documented(Op("An MXNet task's kept checkpoints", TASKS, {200: r.Checkpoints}, (404,)))
def list_checkpoints(task_id: str):
    with session_scope() as session:
        task_queries.get_task(session, task_id)
        rows = artifact_queries.epoch_checkpoints(session, task_id)
        return r.Checkpoints(task_id=task_id, checkpoints=[
            r.Checkpoint(epoch=c.epoch, size=c.size, sha256=c.sha256,
                         download=f"/api/v0/tasks/{task_id}/checkpoints/{c.epoch}") for c in rows])


@bp.get("/<task_id>/checkpoints/<int:epoch>")
@documented(Op("Download a checkpoint", TASKS, {200: BINARY, 302: REDIRECT}, (404,), query=(REDIRECT_PARAM,),
                description=REDIRECT_DESCRIPTION))
def download_checkpoint(task_id: str, epoch: int):
    with session_scope() as session:
        task_queries.get_task(session, task_id)
        row = artifact_queries.get_artifact(session, task_id, artifact_queries.epoch_checkpoint_kind(epoch))
        if row is None:
            raise ApiError(404, f"task {task_id!r} kept no checkpoint of epoch {epoch}")
        return artifact_download(row, "application/octet-stream", f"{task_id}-{epoch:04d}.zip")
