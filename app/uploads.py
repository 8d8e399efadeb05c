"""Uploaded files without holding them in memory.

werkzeug spools a multipart file part over 500 KiB to a temporary file while it parses the body
(and refuses a body over ``MAX_CONTENT_LENGTH`` with 413, from Content-Length before reading or
while reading a chunked one). What is here checks such a part from that file (its size is
read from the file) and bundles several parts into one zip on disk, never as one ``bytes``; the
blob store takes it streamed, hashing it on the way (dao.dataset_queries.insert_dataset_file).
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from typing import BinaryIO

from flask import request
from werkzeug.datastructures import FileStorage

from webcommon.errors import ApiError
from dao import storage_quota
from contracts.settings import get_settings

CHUNK = 1 << 20
# The longest URL (path and query string, as sent) the API answers; gunicorn's own limit on the
# whole request line (gunicorn.conf.py limit_request_line, 8190) is above it, so a longer URL up
# to there gets this JSON 414 rather than gunicorn's HTML one.
MAX_URL_BYTES = 4096


def size_of(fh: BinaryIO) -> int:
    """The file's length; leaves it at its start."""
    size = fh.seek(0, 2)
    fh.seek(0)
    return size


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
    Content-Length before reading, or while reading a chunked body. A URL (path and query, as
    sent) over MAX_URL_BYTES is refused first, with a JSON 414."""
    length = _url_length()
    if length > MAX_URL_BYTES:
        raise ApiError(414, f"the URL is {length} bytes long; the limit is {MAX_URL_BYTES} bytes "
                            "(send long values in a JSON body)")
    if request.mimetype != "multipart/form-data":
        request.max_content_length = get_settings().max_json_kb * 1024


def _url_length() -> int:
    """The request target's length as sent (gunicorn's RAW_URI holds the path and the query)."""
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    return len(raw) + (len(query) + 1 if query and "?" not in raw else 0)


def limit_message(exc: BaseException | None = None) -> str:
    """The 413 answer's message, naming the limit the request broke. werkzeug raises the same
    RequestEntityTooLarge, without a word, for a body past ``max_content_length``, a multipart
    body of more than ``max_form_parts`` parts and a multipart field (not a file) past
    ``max_form_memory_size``: which it was is read from where ``exc`` was raised."""
    multipart = request.mimetype == "multipart/form-data"
    cause = _multipart_cause(exc) if multipart and exc is not None else None
    if cause == "parts":
        return (f"the multipart body has more than {request.max_form_parts} parts: send at most "
                f"{request.max_form_parts} fields and files in one request")
    if cause == "field":
        return (f"a multipart field that is not a file is larger than {request.max_form_memory_size} bytes: "
                "send a large value as a file part")
    limit = request.max_content_length
    if limit is None:
        return "the request body is too large"
    if multipart:
        return f"the request body is larger than the limit of {limit >> 20} MiB (TRAINYARD_MAX_UPLOAD_MB)"
    return f"the request body is larger than the limit of {limit >> 10} KiB (TRAINYARD_MAX_JSON_KB)"


# Where werkzeug (3.1) raises RequestEntityTooLarge for each multipart limit: (module, function).
_PARTS_RAISED_IN = {("werkzeug.sansio.multipart", "next_event")}
_FIELD_RAISED_IN = {("werkzeug.sansio.multipart", "receive_data"), ("werkzeug.formparser", "parse")}


def _multipart_cause(exc: BaseException) -> str | None:
    """"parts" or "field" when ``exc`` came from werkzeug's multipart parser's part count or
    field size check, None otherwise (the body's size, or a werkzeug that raises elsewhere)."""
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    where = (tb.tb_frame.f_globals.get("__name__", ""), tb.tb_frame.f_code.co_name)
    if where in _PARTS_RAISED_IN:
        return "parts"
    if where in _FIELD_RAISED_IN:
        return "field"
    return None
