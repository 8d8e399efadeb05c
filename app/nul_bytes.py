"""PostgreSQL text cannot hold a NUL character: a request carrying one anywhere it could reach
the database (a URL segment, a query parameter, a form field or file name, any JSON string or
key) is refused before any handler runs, naming where the NUL is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import request

from webcommon.errors import ApiError

NUL = "\x00"
PROBLEM = "must not contain a NUL character"


def _json_paths(value: Any, path: str) -> Iterator[str]:
    """Paths (``param_set.task_name``, ``train_data[0]``) of strings or keys holding a NUL."""
    if isinstance(value, str):
        if NUL in value:
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                yield child
            yield from _json_paths(item, child)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_paths(item, f"{path}[{i}]")


def _json_body_paths() -> list[str]:
    raw = request.get_data(cache=True)
    # JSON can carry a NUL only as the escape \u0000 (a raw one is invalid JSON, refused later).
    if b"\\u0000" not in raw:
        return []
    try:
        return list(_json_paths(json.loads(raw), ""))
    except (ValueError, RecursionError):
        return []  # unparseable: the route answers 400


def _pairs(multidict) -> Iterator[tuple[str, str]]:  # noqa: ANN001 - a werkzeug MultiDict
    for key, value in multidict.items(multi=True):
        yield key, value


def refuse_nul_bytes() -> None:
    """A ``before_request`` hook. Raises ApiError 400 (URL or query) or 422 (body fields)."""
    in_url = [k for k, v in (request.view_args or {}).items() if NUL in str(v)]
    in_url += [k or "query" for k, v in _pairs(request.args) if NUL in k or NUL in v]
    if in_url:
        raise ApiError(400, "the request has invalid parameters",
                       [{"field": name, "problem": PROBLEM} for name in in_url])
    in_body = _json_body_paths() if request.is_json else []
    if request.mimetype == "application/x-www-form-urlencoded":
        # Keep the raw body readable afterwards: NEURO-LEARN's client labels a JSON body so, and
        # json_body reads it raw (form parsing would otherwise consume the stream).
        request.get_data(cache=True)
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # werkzeug gives a part whose name it cannot decode no name (None)
        in_body += [k or "form" for k, v in _pairs(request.form) if NUL in (k or "") or NUL in (v or "")]
        in_body += [k for k, f in _pairs(request.files) if NUL in (f.filename or "")]
    if in_body:
        raise ApiError(422, "the form has invalid fields", [{"field": name, "problem": PROBLEM} for name in in_body])
