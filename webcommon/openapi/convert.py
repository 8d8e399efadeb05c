"""pydantic's JSON Schema (draft 2020-12) rewritten in OpenAPI 3.0's dialect.

OpenAPI 3.0 has no ``null`` type, no ``const``, no ``prefixItems``, boolean exclusive bounds and
``components/schemas`` instead of ``$defs``; 3.1's ``anyOf: [T, null]`` breaks common client
generators, so the document is pinned to 3.0.3 and every schema passes through ``to_openapi30``.
"""

from __future__ import annotations

from typing import Any

REF_PREFIX = "#/components/schemas/"
# What a 3.0 Schema Object may hold (besides x- extensions); anything else is dropped.
ALLOWED = {
    "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength",
    "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties",
    "required", "enum", "type", "allOf", "oneOf", "anyOf", "not", "items", "properties",
    "additionalProperties", "description", "format", "default", "nullable", "discriminator", "readOnly",
    "writeOnly", "xml", "externalDocs", "example", "deprecated", "$ref",
}
# pydantic leaves a Field's bounds under their Python names beside ``anyOf`` when the field is
# optional (``int | None = Field(ge=1)``); it enforces them, so the document states them.
_LEAKED = {"ge": ("minimum", False), "le": ("maximum", False), "gt": ("minimum", True), "lt": ("maximum", True)}


def to_openapi30(schema: Any) -> Any:
    """A copy of ``schema`` (a JSON Schema 2020-12 dict, as pydantic writes it) that is a valid
    OpenAPI 3.0 Schema Object. ``$defs`` must already be lifted out (``lift_defs``)."""
    if isinstance(schema, list):
        return [to_openapi30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: to_openapi30(v) if k != "properties" else {name: to_openapi30(s) for name, s in v.items()}
           for k, v in schema.items()}
    _leaked_bounds(out)
    _const(out)
    _bounds(out)
    _tuple(out)
    _type_list(out)
    out = _nullable(out)
    return {k: v for k, v in out.items() if k in ALLOWED or k.startswith("x-")}


def _leaked_bounds(s: dict) -> None:
    branches = s.get("anyOf")
    for name, (keyword, exclusive) in _LEAKED.items():
        if name not in s:
            continue
        value = s.pop(name)
        for branch in branches or [s]:
            if branch.get("type") in ("integer", "number"):
                branch[keyword] = value
                if exclusive:
                    branch["exclusive" + keyword.capitalize()] = True


def _const(s: dict) -> None:
    if "const" in s:
        s["enum"] = [s.pop("const")]
        if "type" not in s and s["enum"][0] is not None:
            s["type"] = _json_type(s["enum"][0])


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "string")


def _bounds(s: dict) -> None:
    for exclusive, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = s.get(exclusive)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            s[inclusive], s[exclusive] = value, True


def _tuple(s: dict) -> None:
    """``prefixItems`` (a fixed-length tuple) → an array of any of the item shapes, its length bounded."""
    items = s.pop("prefixItems", None)
    if items is None:
        return
    s["items"] = items[0] if len(items) == 1 else {"anyOf": items}
    s.setdefault("minItems", len(items))
    s.setdefault("maxItems", len(items))


def _type_list(s: dict) -> None:
    kind = s.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) < len(kind):
            s["nullable"] = True
        if len(kinds) == 1:
            s["type"] = kinds[0]
        else:
            del s["type"]
            s["anyOf"] = [{"type": k} for k in kinds]


def _is_null(s: Any) -> bool:
    return isinstance(s, dict) and (s.get("type") == "null" or s.get("enum") == [None])


def _nullable(s: dict) -> dict:
    """``anyOf [T, null]`` → T with ``nullable: true``; a lone ``$ref`` is wrapped in ``allOf``
    because a Reference Object ignores its siblings in 3.0."""
    for key in ("anyOf", "oneOf"):
        branches = s.get(key)
        if not isinstance(branches, list) or not any(_is_null(b) for b in branches):
            continue
        rest = [b for b in branches if not _is_null(b)]
        del s[key]
        if len(rest) == 1 and "$ref" in rest[0]:
            s["allOf"] = rest
        elif len(rest) == 1:
            s.update({k: v for k, v in rest[0].items() if k not in s})
        elif rest:
            s[key] = rest
        s["nullable"] = True
    if _is_null(s):  # only null: 3.0 ignores nullable without a type
        s.pop("type", None)
        s.update(type="string", nullable=True, enum=[None])
    if s.get("nullable") and "type" not in s and not any(k in s for k in ("allOf", "anyOf", "oneOf", "$ref")):
        s.pop("nullable")  # "any value" already includes null
    return s


def lift_defs(schema: dict, components: dict[str, Any]) -> dict:
    """Move ``$defs`` into ``components`` (already pointed at by the ref template) and return
    the rest, both converted."""
    schema = dict(schema)
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = to_openapi30(definition)
    return to_openapi30(schema)
