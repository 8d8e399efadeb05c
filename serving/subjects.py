"""Subjects a client sends for a connectome model: JSON matrices, or an uploaded ``.npz`` /
DPABI ``.zip``. A prediction has no labels: an ``.npz`` is read here, with the dataset
importer's archive guards and array format but without its label checks (``labels`` and
``class_names`` may be left out, and play no part when sent); a DPABI ``.zip`` goes to the dataset
importer's ``read_dpabi_subjects``: the same validation as dataset uploads but for the labels (its
table names the subjects; the LABEL column may be left out, and plays no part when sent)."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

import numpy as np

from models.datasets.dpabi import read_dpabi_subjects
from models.datasets.importers import open_upload
from models.datasets.npz import ARRAYS, parse_npy
from models.datasets.types import DatasetImportError
from models.datasets.validate import read_archive
from serving.errors import BadInput
from serving.inputs import connectome_feeds
from serving.loaded import LoadedModel

READ = ("conn", "features", "subjects")  # of an .npz's ARRAYS, what a prediction uses


def from_file(model: LoadedModel, filename: str, data: bytes) -> tuple[dict, list[str]]:
    """(feeds, subject ids) of an uploaded file. Raises BadInput naming each problem."""
    limit = len(data) * 64 + (1 << 20)
    try:
        if PurePosixPath(filename.replace("\\", "/")).suffix.lower() == ".npz":
            conn, features, subjects = _npz_subjects(data, limit)
        else:
            fh, _ = open_upload(filename, data)
            conn, features, subjects = read_dpabi_subjects(fh, max_member_bytes=limit, max_total_bytes=limit)
    except DatasetImportError as exc:
        raise BadInput(f"file: {'; '.join(exc.problems[:10])}", field="file") from None
    return connectome_feeds(model, conn, features, field="file"), subjects


def raw_upload_name(data: bytes) -> str:
    """The name a zip sent as the raw body is read under: ``upload.zip`` (DPABI) when it holds a
    ``.csv`` label table, else ``upload.npz``; a broken archive is left to that reader's errors."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            table = any(n.lower().endswith(".csv") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        table = False
    return "upload.zip" if table else "upload.npz"


def _npz_subjects(data: bytes, limit: int) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """``conn``, ``features`` (None when absent) and the subject ids (``sub-0001``… when absent)
    of an ``.npz`` to predict. ``limit`` bounds the file and its members, uncompressed. Raises
    DatasetImportError: the archive guards (``read_archive``), members that are not a dataset
    ``.npz``'s arrays, unreadable or object arrays, ``conn`` missing or not N×R×R numbers,
    ``subjects`` not N strings. Shapes against the model are the feeds' check."""
    arrays, problems = {}, []
    for name, blob in read_archive(data, max_member_bytes=limit, max_total_bytes=limit).items():
        key = name.removesuffix(".npy")
        if key not in ARRAYS:
            problems.append(f"member {name!r} is not one of the arrays {', '.join(ARRAYS)}")
        elif key in READ:
            arrays[key] = parse_npy(key, blob)
    conn, ids = arrays.get("conn"), arrays.get("subjects")
    if conn is None:
        problems.append("missing array 'conn'")
    elif conn.ndim != 3 or conn.dtype.kind not in "fiu":
        problems.append(f"array 'conn' has shape {conn.shape} and dtype {conn.dtype}; expected N×R×R numbers")
    if ids is not None and (ids.ndim != 1 or ids.dtype.kind not in "US"):
        problems.append(f"array 'subjects' has shape {ids.shape} and dtype {ids.dtype}; expected N strings")
    elif ids is not None and conn is not None and len(ids) != len(conn):
        problems.append(f"array 'subjects' has {len(ids)} entries but 'conn' has {len(conn)} subjects: "
                        "every subject needs one")
    if problems:
        raise DatasetImportError(problems)
    n = len(conn)
    if ids is None:
        return conn, arrays.get("features"), [f"sub-{i + 1:0{max(4, len(str(n)))}d}" for i in range(n)]
    texts = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in ids.tolist()]
    return conn, arrays.get("features"), texts


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
