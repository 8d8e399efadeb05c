"""Uploaded files without holding them in memory.

werkzeug spools a multipart file part over 500 KiB to a temporary file while it parses the body
(and refuses a body over ``MAX_CONTENT_LENGTH`` with 413, from Content-Length before reading or
while reading a chunked one). What is here checks and stores such a part from that file: its
size is read from the file, its checksum in chunks, and several parts are bundled into one zip
on disk, never as one ``bytes``.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import zipfile
from typing import BinaryIO

from flask import request
from werkzeug.datastructures import FileStorage

from app.errors import ApiError
from dao import storage_quota
from contracts.settings import get_settings

CHUNK = 1 << 20


def size_of(fh: BinaryIO) -> int:
    """The file's length; leaves it at its start."""
    size = fh.seek(0, 2)
    fh.seek(0)
    return size


def sha256_of(fh: BinaryIO) -> str:
    digest = hashlib.sha256()
    fh.seek(0)
    for chunk in iter(lambda: fh.read(CHUNK), b""):
        digest.update(chunk)
    fh.seek(0)
    return digest.hexdigest()


def within_quota(session, project: str | None, needed: int) -> None:
    """Raises ApiError 413 when storing ``needed`` more bytes would pass the project's storage
    quota (nothing is stored then); otherwise the project row stays locked until the caller's
    insert commits."""
    refused = storage_quota.refusal(session, project, needed)
    if refused:
        raise ApiError(413, refused)


def is_archive(fh: BinaryIO, zip_only: bool) -> bool:
    """Whether the file opens as a zip (reading its central directory only) or, unless
    ``zip_only``, as a tar (reading its first header only). Leaves the file at its start."""
    try:
        if zipfile.is_zipfile(fh):
            return True
        if zip_only:
            return False
        fh.seek(0)
        with tarfile.open(fileobj=fh, mode="r:*") as tf:
            return tf.next() is not None
    except (tarfile.TarError, EOFError, OSError, ValueError):
        return False
    finally:
        fh.seek(0)


def bundle(parts: list[FileStorage], names: list[str]) -> BinaryIO:
    """Several uploaded parts (a .rec and its .idx) as one stored zip, in a temporary file."""
    out = tempfile.TemporaryFile()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for part, name in zip(parts, names):
            part.stream.seek(0)
            with zf.open(name, "w", force_zip64=True) as member:
                shutil.copyfileobj(part.stream, member, CHUNK)
    out.seek(0)
    return out


def limit_body() -> None:
    """A ``before_request`` hook, first of all: a body that is not multipart (JSON, a urlencoded
    form) may be read whole into memory by whatever reads it, so it gets the JSON limit
    (TRAINYARD_MAX_JSON_KB) instead of the upload limit; werkzeug answers 413 past it, from
    Content-Length before reading, or while reading a chunked body."""
    if request.mimetype != "multipart/form-data":
        request.max_content_length = get_settings().max_json_kb * 1024


def limit_message() -> str:
    """The 413 answer's message, naming the limit the request was held to."""
    limit = request.max_content_length
    if limit is None:
        return "the request body is too large"
    if request.mimetype == "multipart/form-data":
        return f"the request body is larger than the limit of {limit >> 20} MiB (TRAINYARD_MAX_UPLOAD_MB)"
    return f"the request body is larger than the limit of {limit >> 10} KiB (TRAINYARD_MAX_JSON_KB)"
