"""Datasets: upload, list, describe, delete.

Connectome uploads (.npz or DPABI .zip) are validated here, with numpy only, and are READY at
once. Image uploads (``kind=image``: the canonical .npz, a zip/tar of class-named PNG/JPEG
folders, or RecordIO .rec + .idx as two files or inside one archive) and detection uploads
(``kind=detection``: the canonical .npz, im2rec .rec + .idx (+ .lst), a .lst with its images, or
a Pascal VOC folder) are stored raw with status VALIDATING and checked by the MXNet worker
(tasks/image_imports.py), which alone can decode JPEG and read RecordIO; the dataset then becomes
READY or REJECTED (``problems`` says why). Poll GET /api/v0/datasets/<name>.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from flask import Blueprint, request

from app import dataset_cache, uploads
from webcommon.principal import can_see
from app.auth.submit import owner_for_upload
from webcommon.errors import ApiError, invalid
from app.schemas.task_view import iso
from dao import dataset_queries
from dao.db import session_scope
from contracts.settings import get_settings
from dao.tables import Dataset
from contracts.statuses import DATASET_KINDS, DatasetStatus
from models.datasets import fingerprints
from models.datasets.importers import load_upload
from models.datasets.metadata import describe
from models.datasets.types import DatasetImportError
from models.mxnet_backend.archive import declared_problems
from tasks.publish import PublishError, publish_image_import
from contracts import replies as r
from webcommon.openapi.common import DATA
from webcommon.openapi.spec_types import Op, Raw, documented

bp = Blueprint("datasets", __name__, url_prefix="/api/v0/datasets")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
DATASET_UPLOAD = Raw("multipart/form-data", {  # what upload reads, for the OpenAPI document
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "an .npz or DPABI .zip (connectome); an image .npz, zip/tar of class "
                                "folders, or .rec + .idx (image): up to 3 files; a detection .npz, "
                                ".rec + .idx (+ .lst), or a zip/tar of a .lst with its images or of a "
                                "Pascal VOC folder (detection): up to 4 files"},
        "name": {"type": "string", "description": "defaults to the file's stem"},
        "kind": {"type": "string", "enum": list(DATASET_KINDS), "default": "connectome"},
        "channels": {"type": "string", "enum": ["1", "3"], "default": "3"},
        "image_size": {"type": "string", "description": "HxW, each 8..4096, e.g. 28x28"},
    }})


def public(row: Dataset) -> r.Dataset:
    """The row and, beside its fields, its metadata (subjects, regions, classes, ...)."""
    return r.Dataset.model_validate({
        "name": row.name, "kind": row.kind, "status": row.status, "source_filename": row.source_filename,
        "size": row.size, "checksum": row.checksum, "created_at": iso(row.created_at), "proj_id": row.project_id,
        **row.meta})


def source_filename(names: list[str]) -> str:
    """The upload's file name(s) as stored. Raises ApiError 422 when longer than the column."""
    joined, limit = "+".join(names), Dataset.source_filename.type.length
    if len(joined) > limit:
        raise invalid([("file", f"the file name is longer than {limit} characters")])
    return joined


def _proj_id() -> str | None:
    """The upload's project: a form field or query argument ``proj_id`` (optional, see
    app.auth.submit.owner_for_upload)."""
    return (request.form.get("proj_id") or request.args.get("proj_id") or "").strip() or None


@bp.post("")
@documented(Op(
    "Register a dataset", DATA, {201: r.DatasetReply, 202: r.DatasetReply}, (409, 413, 422), body=DATASET_UPLOAD,
    description="Connectome uploads are validated at once (201); image and detection uploads are "
                "checked by the MXNet worker (202, VALIDATING)."))
def upload():
    kind = request.form.get("kind", "connectome").strip()
    if kind not in DATASET_KINDS:
        raise invalid([("kind", f"must be one of {', '.join(DATASET_KINDS)}, got {kind[:40]!r}")])
    if kind != "connectome":
        return upload_images(kind)
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        raise invalid([("file", "is required: a multipart field named 'file' holding an .npz or .zip")])
    name = (request.form.get("name") or PurePath(upload_file.filename).stem).strip()
    if not NAME.match(name):
        raise invalid([("name", "must be 1-200 letters, digits, '_', '.' or '-', starting with a letter or digit")])
    filename = source_filename([upload_file.filename])
    limit = get_settings().max_upload_mb * 1024 * 1024
    try:  # read in place from werkzeug's spooled file: only validated members come into memory
        dataset = load_upload(upload_file.filename, upload_file.stream, max_bytes=limit)
    except DatasetImportError as exc:
        raise ApiError(422, "the dataset file was rejected",
                       [{"field": "file", "problem": p} for p in exc.problems]) from None
    meta = describe(dataset)
    blob = dataset.to_npz_bytes()
    prints = fingerprints.to_bytes(fingerprints.fingerprint(dataset))
    with session_scope() as session:
        project = owner_for_upload(session, _proj_id())
        uploads.within_quota(session, project, len(blob))
        row = dataset_queries.insert_dataset(session, name, "connectome", meta, blob,
                                             source_filename=filename, project_id=project,
                                             subject_prints=prints)
        return r.DatasetReply(error_num=0, msg="dataset registered", dataset=public(row)), 201


def _image_options() -> dict:
    """channels (1 or 3, default 3) and image_size ("HxW", optional) from the form. Raises
    ApiError 422 naming the field."""
    channels = request.form.get("channels", "3").strip()
    if channels not in ("1", "3"):
        raise invalid([("channels", "must be 1 or 3")])
    options: dict = {"channels": int(channels)}
    size = request.form.get("image_size", "").strip().lower()
    if size:
        parts = size.split("x")
        if len(parts) != 2 or not all(p.isdigit() and 8 <= int(p) <= 4096 for p in parts):
            raise invalid([("image_size", "must be HxW, each 8..4096, e.g. 28x28")])
        options["image_size"] = [int(parts[0]), int(parts[1])]
    return options


def _structure_problems(names: list[str], parts: list) -> list[str]:
    """What the API can see wrong in image upload files without inflating them: a single file
    that is not a zip (an .npz must be one) or a tar, and a zip's declared sizes and ratios
    (zip bombs). The MXNet worker checks the rest."""
    problems = []
    for name, part in zip(names, parts):
        fh = part.stream
        if len(parts) == 1 and not uploads.is_archive(fh, zip_only=name.lower().endswith(".npz")):
            kinds = "a zip (an .npz is one)" if name.lower().endswith(".npz") else "a zip or tar archive"
            problems.append(f"{name}: not {kinds}")
        problems += [f"{name}: {p}" for p in declared_problems(fh)]
        fh.seek(0)
    return problems


# How many files one upload of each kind may send, and what they are.
_UPLOAD_FILES = {"image": (3, "one .npz or archive, or a .rec with its .idx (and classes.txt)"),
                 "detection": (4, "one .npz or archive, or a .rec with its .idx (and a .lst and classes.txt)")}


def upload_images(kind: str):
    """Store an image or detection upload raw (VALIDATING) and queue its validation on the MXNet
    queue. Answers 202; 422 for missing files, bad options, or files that are visibly not
    archives or are zip bombs (nothing is stored then); 503 when the queue is unreachable
    (nothing is kept then). The files are checked and stored from werkzeug's spooled files,
    never read whole."""
    parts = [f for f in request.files.getlist("file") if f.filename]
    most, accepted = _UPLOAD_FILES[kind]
    if not parts or len(parts) > most:
        raise invalid([("file", f"is required: {accepted}")])
    name = (request.form.get("name") or PurePath(parts[0].filename).stem).strip()
    if not NAME.match(name):
        raise invalid([("name", "must be 1-200 letters, digits, '_', '.' or '-', starting with a letter or digit")])
    filename = source_filename([PurePath(f.filename).name for f in parts])
    names = [PurePath(f.filename).name for f in parts]
    if len(set(names)) != len(names):
        raise invalid([("file", "two uploaded files have the same name")])
    options = _image_options()  # the form's fields first: cheap, and named
    problems = _structure_problems(names, parts)
    if problems:  # refused before anything is stored or inflated
        raise ApiError(422, "the dataset file was rejected", [{"field": "file", "problem": p} for p in problems])
    meta = {"kind": kind, "upload_files": names, "import_options": options}
    blob = parts[0].stream if len(parts) == 1 else uploads.bundle(parts, names)
    with session_scope() as session:
        project = owner_for_upload(session, _proj_id())
        size = uploads.size_of(blob)
        uploads.within_quota(session, project, size)
        row = dataset_queries.insert_dataset_file(  # streamed into the blob store; its sha256 on the way
            session, name, kind, meta, blob, size,
            source_filename=filename, status=DatasetStatus.VALIDATING.value, project_id=project)
        reply = public(row)
    try:
        publish_image_import(name)
    except PublishError:
        with session_scope() as session:
            dataset_queries.delete_dataset(session, name)
        raise ApiError(503, "the MXNet queue is unreachable; nothing was stored, try again shortly") from None
    return r.DatasetReply(error_num=0, msg="stored; the MXNet worker is validating it", dataset=reply), 202


@bp.get("")
@documented(Op("List datasets", DATA, {200: r.Datasets}))
def list_all():
    with session_scope() as session:
        rows = [d for d in dataset_queries.list_datasets(session) if can_see(d.project_id)]
        return r.Datasets(datasets=[public(d) for d in rows])


@bp.get("/<name>")
@documented(Op("Describe a dataset", DATA, {200: r.Dataset}, (404,)))
def show(name: str):
    with session_scope() as session:
        return public(dataset_queries.get_dataset(session, name))


@bp.delete("/<name>")
@documented(Op("Delete a dataset no task uses", DATA, {200: r.Done}, (404, 409)))
def delete(name: str):
    with session_scope() as session:
        dataset_queries.delete_dataset(session, name)
    dataset_cache.forget(name)
    return r.Done(error_num=0, msg=f"dataset {name!r} deleted")
