"""Answering the download of a task's artifact (weights, a checkpoint, a picture) once its view
has found the row; webcommon.guard has already checked that the caller may see the task.

Where the store has presigned URLs (s3://) and ``TRAINYARD_ARTIFACT_PRESIGN_SECONDS`` is not 0,
the answer is a redirect to one, so the bytes go from the store to the client without passing
through the API; otherwise (file://, rows that keep their own bytes) the API streams them.
``?redirect=false`` asks for the bytes through the API whatever the store (the dashboard's
scripts: a cross-origin redirect would need CORS on the bucket)."""

from __future__ import annotations

from flask import Response

from app.api.requests import choice_arg
from contracts.settings import get_settings
from dao import artifact_queries
from dao.tables import TaskArtifact
from webcommon.openapi.spec_types import Param, choice

REDIRECT_PARAM = Param(
    "redirect", choice("true", "false"),
    description="true (the default): an artifact in s3:// answers 302 to a short-lived presigned URL of it; "
                "false: the bytes come through the API")
REDIRECT_DESCRIPTION = (
    "An artifact in an s3:// store answers 302 with `Location` a presigned URL that fetches it without a "
    "token for TRAINYARD_ARTIFACT_PRESIGN_SECONDS; a file:// store, `?redirect=false` or that setting at 0 "
    "answers 200 with the bytes. `X-Content-SHA256` is on both.")


def artifact_download(row: TaskArtifact, mimetype: str, filename: str | None = None) -> Response:
    """A redirect to the store, or the bytes streamed (200) with their length and file name.
    Raises ApiError 400 for a ``redirect`` query parameter other than true or false."""
    disposition = f'attachment; filename="{filename}"' if filename else None
    headers = {"X-Content-SHA256": row.sha256}
    url = _presigned_url(row, mimetype, disposition)
    if url is not None:
        # no body; no-store: the URL expires, so no cache may replay this answer
        return Response(status=302, headers={**headers, "Location": url, "Cache-Control": "no-store"})
    headers["Content-Length"] = str(row.size)
    if disposition:
        headers["Content-Disposition"] = disposition
    return Response(artifact_queries.chunks(row), mimetype=mimetype, headers=headers)


def _presigned_url(row: TaskArtifact, mimetype: str, disposition: str | None) -> str | None:
    if choice_arg("redirect", "true", ("true", "false")) == "false":
        return None
    return artifact_queries.presigned_url(row, get_settings().artifact_presign_seconds,
                                          content_type=mimetype, disposition=disposition)
