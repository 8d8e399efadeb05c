"""Subjects a client sends for a connectome model: JSON matrices, or an uploaded ``.npz`` /
DPABI ``.zip`` read by the dataset importers (the same validation as dataset uploads)."""

from __future__ import annotations

from models.datasets.importers import load_upload
from models.datasets.types import DatasetImportError
from serving.errors import BadInput
from serving.inputs import connectome_feeds
from serving.loaded import LoadedModel


def from_file(model: LoadedModel, filename: str, data: bytes) -> tuple[dict, list[str]]:
    """(feeds, subject ids) of an uploaded file. Raises BadInput naming each problem."""
    try:
        ds = load_upload(filename, data, max_bytes=len(data) * 64 + (1 << 20))
    except DatasetImportError as exc:
        raise BadInput(f"file: {'; '.join(exc.problems[:10])}", field="file") from None
    feeds = connectome_feeds(model, ds.conn, ds.features, field="file")
    return feeds, list(ds.subjects)


def from_json(model: LoadedModel, body) -> tuple[dict, list[str] | None]:
    """A bare matrix or list of matrices, or ``{"matrix" | "matrices" | "data", "features",
    "subjects"}``. Raises BadInput."""
    if not isinstance(body, dict):
        return connectome_feeds(model, body, field="body"), None
    key = next((k for k in ("matrices", "matrix", "data") if k in body), None)
    if key is None:
        raise BadInput("matrices: send one R×R matrix as \"matrix\" or a list of them as \"matrices\"",
                       field="matrices")
    feeds = connectome_feeds(model, body[key], body.get("features"), field=key)
    subjects = body.get("subjects")
    n = feeds["conn"].shape[0]
    if subjects is not None:
        if not isinstance(subjects, list) or len(subjects) != n or not all(isinstance(s, (str, int)) for s in subjects):
            raise BadInput(f"subjects: expected a list of {n} subject ids", field="subjects")
        subjects = [str(s) for s in subjects]
    return feeds, subjects
