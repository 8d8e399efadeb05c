"""Validating a stored image or detection upload in the MXNet worker: the raw bytes the API kept
become the canonical stored form (``ImageDataset`` / ``DetectionDataset.to_npz_bytes``) and READY,
or the dataset becomes REJECTED with one problem per bad member / record / image / box. Runs where
mxnet is (JPEG decoding, RecordIO). ``meta["kind"]`` (set by the API at upload) picks the importer.
"""

from __future__ import annotations

import io
import logging
import zipfile

from dao import dataset_queries
from dao.db import session_scope
from dao.tables import Dataset
from contracts.statuses import DatasetStatus

log = logging.getLogger(__name__)


def _upload_files(blob: bytes, meta: dict) -> dict[str, bytes]:
    """The uploaded files as the importer takes them: one file under its name, or the several
    files the API bundled into one stored zip."""
    names = meta.get("upload_files") or ["upload"]
    if len(names) == 1:
        return {names[0]: blob}
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {name: zf.read(name) for name in names}


def _importer(meta: dict):
    """(import function, metadata function) for the upload's kind: images or detection data."""
    if meta.get("kind") == "detection":
        from models.mxnet_backend.detection_importers import import_detection_upload
        from models.mxnet_backend.detection_stats import detection_metadata

        return import_detection_upload, detection_metadata
    from models.mxnet_backend.images import image_metadata
    from models.mxnet_backend.importers import import_image_upload

    return import_image_upload, image_metadata


def _convert(blob: bytes, meta: dict) -> tuple[bytes, dict]:
    """(canonical npz, metadata). Raises DatasetImportError listing every problem."""
    import_upload, describe = _importer(meta)
    options = meta.get("import_options") or {}
    size = options.get("image_size")
    result = import_upload(_upload_files(blob, meta), channels=int(options.get("channels", 3)),
                           image_size=None if size is None else (int(size[0]), int(size[1])))
    described = describe(result.dataset) | {"notes": result.notes, "import_options": options}
    return result.dataset.to_npz_bytes(), described


def import_images(name: str) -> str:
    """Validate the VALIDATING dataset ``name``; returns its new status (or "skipped" when it
    is gone or was already decided). Never raises for a bad upload."""
    from models.datasets.types import DatasetImportError

    with session_scope() as session:
        row = session.get(Dataset, name)
        if row is None or row.status != DatasetStatus.VALIDATING.value:
            return "skipped"
        meta, blob = dict(row.meta), dataset_queries.get_data(session, name)
    try:
        data, described = _convert(blob, meta)
    except DatasetImportError as exc:
        return _reject(name, exc.problems)
    except Exception as exc:  # noqa: BLE001 - any decoder failure rejects the upload, not the worker
        log.exception("dataset %s: import failed", name)
        return _reject(name, [f"the upload could not be read: {type(exc).__name__}: {exc}"])
    with session_scope() as session:
        done = dataset_queries.mark_dataset_ready(session, name, described, data)
    return DatasetStatus.READY.value if done else "skipped"


def _reject(name: str, problems: list[str]) -> str:
    with session_scope() as session:
        dataset_queries.mark_dataset_rejected(session, name, problems)
    log.info("dataset %s: rejected: %s", name, "; ".join(problems[:5]))
    return DatasetStatus.REJECTED.value
