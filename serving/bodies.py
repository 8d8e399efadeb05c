"""Reading prediction request bodies: JSON, or an uploaded file (multipart or raw bytes)."""

from __future__ import annotations

import json

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from serving.errors import BadRequest, TooLarge


def raw_body() -> bytes:
    """Raises TooLarge past the serving role's body limit."""
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise TooLarge(f"the body is larger than {request.max_content_length // (1024 * 1024)} MiB") from None


def json_value(required: bool = True):
    """The parsed JSON body (any JSON value). Raises BadRequest, TooLarge."""
    data = raw_body()
    if not data and not required:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON", field="body") from None


def json_object() -> dict:
    value = json_value()
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object", field="body")
    return value


def uploaded_file() -> tuple[str, bytes] | None:
    """(filename, bytes) of a multipart upload's first file, or None. Raises TooLarge."""
    try:
        files = request.files
    except RequestEntityTooLarge:
        raise TooLarge(f"the body is larger than {request.max_content_length // (1024 * 1024)} MiB") from None
    for _field, storage in files.items(multi=True):
        return storage.filename or "upload", storage.read()
    return None

