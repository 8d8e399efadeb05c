"""The OpenAPI 3.0.3 document, built from apps' URL maps and the operations recorded on their
views (``webcommon.openapi.spec_types.documented``, beside each route).

Every method of every rule of every app given must have its operation on the rule's view
(``MissingOperation`` otherwise), so the document covers each route by construction. Shapes
come from pydantic (``models_json_schema``) and are rewritten to 3.0's dialect by
``webcommon.openapi.convert``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from flask import Flask
from werkzeug.routing import Rule

from webcommon.openapi.convert import REF_PREFIX, lift_defs, to_openapi30
from webcommon.openapi.envelopes import DEFAULT_ERROR, ERROR_SHAPES
from webcommon.openapi.spec_types import Op, Raw, Shape, operation_of
from contracts.foreign_replies import KServeError
from contracts.replies import ApiErrorReply

VERSION = "0.1.0"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
_VAR = re.compile(r"<(?:(?P<conv>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTERS = {"int": {"type": "integer", "minimum": 0}, "float": {"type": "number"},
               "path": {"type": "string"}, "default": {"type": "string"}}
REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 302: "Found (see Location)",
           304: "Not Modified",
           400: "Bad request: a bad query parameter, an unreadable body, or a NUL character anywhere",
           401: "No valid bearer token (WWW-Authenticate: Bearer)", 403: "The caller may not change this",
           404: "Not found (or not visible to this token)",
           409: "Conflict with the resource's state", 413: "Too large", 415: "Unsupported media type",
           422: "Invalid fields, each named",
           429: "Too many bad tokens from this address (webcommon.failures); Retry-After says when", 500: "Not ready", 503: "A dependency is unavailable; try again"}


class MissingOperation(LookupError):
    """A route of the app whose view records no operation for one of its methods."""


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """``/tasks/<int:epoch>`` → ``/tasks/{epoch}`` and its path parameters."""
    params = []
    for m in _VAR.finditer(rule):
        params.append({"name": m["name"], "in": "path", "required": True,
                       "schema": dict(_CONVERTERS.get(m["conv"] or "default", _CONVERTERS["default"]))})
    return _VAR.sub(lambda m: "{" + m["name"] + "}", rule), params


def operations_of(app: Flask, keep=lambda rule: True) -> Iterable[tuple[Rule, str, Op]]:  # noqa: ANN001
    """(rule, method, op) for each rule of ``app`` that ``keep`` accepts, the op recorded on the
    rule's view. Raises MissingOperation."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if not keep(rule.rule):
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            op = operation_of(app.view_functions.get(rule.endpoint), method)
            if op is None:
                raise MissingOperation(f"{method} {rule.rule} ({rule.endpoint}) is not documented on its view")
            yield rule, method, op


class _Shapes:
    """Collects the pydantic models used, to emit them once under components/schemas."""

    def __init__(self) -> None:
        self.used: dict[tuple[type[BaseModel], str], None] = {}
        self.refs: dict[tuple[type[BaseModel], str], dict[str, Any]] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        """A placeholder filled in by ``components`` (pydantic names a model used both ways
        ``X-Input`` and ``X-Output`` when the two differ)."""
        self.used[(model, mode)] = None
        return self.refs.setdefault((model, mode), {})

    def components(self) -> dict[str, Any]:
        keys, schema = models_json_schema(list(self.used), ref_template=REF_PREFIX + "{model}")
        for key, ref in keys.items():
            self.refs[key].update(ref)
        components: dict[str, Any] = {}
        lift_defs(schema, components)
        return dict(sorted(components.items()))


def _content(shape: Shape, shapes: _Shapes, mode: str = "serialization") -> dict[str, Any]:
    """{media type: {schema}} of one shape or a tuple of alternatives."""
    alternatives = shape if isinstance(shape, tuple) else (shape,)
    content: dict[str, list] = {}
    for alt in alternatives:
        if isinstance(alt, Raw):
            if alt.media_type:
                content.setdefault(alt.media_type, []).append(dict(alt.schema))
        else:
            content.setdefault("application/json", []).append(shapes.ref(alt, mode))
    return {media: {"schema": schemas[0] if len(schemas) == 1 else {"anyOf": schemas}}
            for media, schemas in content.items()}


def _statuses(op: Op, method: str, auth: bool, nul_hook: bool) -> set[int]:
    codes = set(op.errors)
    if auth and nul_hook and not op.open and method != "GET":
        codes.add(403)  # a viewer, or a read-only token, may not change (webcommon.guard)
    if nul_hook:
        codes.add(400)
    if auth and not op.open:
        codes.update((401, 429))
    if op.database and nul_hook:
        codes.add(503)
    if nul_hook and op.body is not None:
        codes.add(422)  # a NUL in a JSON string or a form field
    return codes - set(op.replies)


def _operation(rule: Rule, method: str, op: Op, shapes: _Shapes, path_params: list, *, auth: bool,
               nul_hook: bool) -> dict[str, Any]:
    blueprint = rule.endpoint.split(".")[0]
    error = ERROR_SHAPES.get(blueprint, DEFAULT_ERROR)
    responses: dict[str, Any] = {}
    for code, shape in sorted(op.replies.items()):
        responses[str(code)] = {"description": REASONS.get(code, "answer"), **_content_block(shape, shapes)}
    for code in sorted(_statuses(op, method, auth, nul_hook)):
        shape = _error_shape(error, code, nul_hook)
        responses[str(code)] = {"description": REASONS.get(code, "error"), "content": _content(shape, shapes)}
    out: dict[str, Any] = {
        "operationId": _operation_id(rule, method), "summary": op.summary, "tags": [op.tag],
        "parameters": path_params + [_param(p) for p in op.query], "responses": responses,
    }
    if op.description:
        out["description"] = op.description
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required, "content": _content(op.body, shapes, "validation")}
    if op.open or not auth:
        out["security"] = []
    return out


def _content_block(shape: Shape, shapes: _Shapes) -> dict[str, Any]:
    content = _content(shape, shapes)
    return {"content": content} if content else {}


def _error_shape(error: type[BaseModel], code: int, nul_hook: bool) -> Shape:
    """The blueprint's envelope; on the API app a 503 (database down, a handler of the app) and
    the NUL hook's 400/422 may come in the API's own envelope where the blueprint has another."""
    if code in (401, 429):  # webcommon.guard's answers, whatever the blueprint
        return ApiErrorReply if nul_hook else KServeError
    if nul_hook and error is not ApiErrorReply and code in (400, 422, 503):
        return (error, ApiErrorReply)
    return error


def _param(p) -> dict[str, Any]:  # noqa: ANN001
    out = {"name": p.name, "in": p.where, "required": p.required, "schema": to_openapi30(p.schema)}
    if p.description:
        out["description"] = p.description
    return out


def _operation_id(rule: Rule, method: str) -> str:
    path = openapi_path(rule.rule)[0]
    name = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"
    return f"{method.lower()}_{name}" + ("_slash" if path.endswith("/") and path != "/" else "")


def build(title: str, sources: list[tuple[Flask, Any, bool]], *,
          auth: bool = True, description: str = "") -> dict[str, Any]:
    """The document for the (app, rule filter, NUL hook installed) sources given."""
    shapes, paths = _Shapes(), {}
    for app, keep, nul_hook in sources:
        for rule, method, op in operations_of(app, keep):
            path, params = openapi_path(rule.rule)
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule, method, op, shapes, params, auth=auth, nul_hook=nul_hook)
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": VERSION, "description": description},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": shapes.components(),  # before anything reads a $ref
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "a trainyard token"}}},
        "security": [{"bearer": []}],
        "tags": [{"name": t} for t in sorted({op["tags"][0] for item in paths.values() for op in item.values()})],
    }
    return doc
