"""Datasets: upload (.npz or DPABI .zip), list, describe, delete."""

from __future__ import annotations

import re
from pathlib import PurePath

from flask import Blueprint, jsonify, request

from app.errors import ApiError, invalid
from dao import dataset_queries
from dao.db import session_scope
from dao.settings import get_settings
from dao.tables import Dataset
from models.datasets.importers import load_upload
from models.datasets.metadata import describe
from models.datasets.types import DatasetImportError

bp = Blueprint("datasets", __name__, url_prefix="/api/v0/datasets")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def public(row: Dataset) -> dict:
    return {"name": row.name, "kind": row.kind, "source_filename": row.source_filename,
            "size": row.size, "checksum": row.checksum, "created_at": row.created_at.isoformat(),
            **row.meta}


@bp.post("")
def upload():
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        raise invalid([("file", "is required: a multipart field named 'file' holding an .npz or .zip")])
    name = (request.form.get("name") or PurePath(upload_file.filename).stem).strip()
    if not NAME.match(name):
        raise invalid([("name", "must be 1-200 letters, digits, '_', '.' or '-', starting with a letter or digit")])
    data = upload_file.read()
    limit = get_settings().max_upload_mb * 1024 * 1024
    try:
        dataset = load_upload(upload_file.filename, data, max_bytes=limit)
    except DatasetImportError as exc:
        raise ApiError(422, "the dataset file was rejected",
                       [{"field": "file", "problem": p} for p in exc.problems]) from None
    meta = describe(dataset)
    with session_scope() as session:
        row = dataset_queries.insert_dataset(session, name, "connectome", meta, dataset.to_npz_bytes(),
                                             source_filename=upload_file.filename)
        return jsonify({"error_num": 0, "msg": "dataset registered", "dataset": public(row)}), 201


@bp.get("")
def list_all():
    with session_scope() as session:
        return jsonify({"datasets": [public(r) for r in dataset_queries.list_datasets(session)]})


@bp.get("/<name>")
def show(name: str):
    with session_scope() as session:
        return jsonify(public(dataset_queries.get_dataset(session, name)))


@bp.delete("/<name>")
def delete(name: str):
    with session_scope() as session:
        dataset_queries.delete_dataset(session, name)
    return jsonify({"error_num": 0, "msg": f"dataset {name!r} deleted"})
