"""A short human reading of a schema (a shape's name, array of X, X or Y, an enum, a type), for
the server's reference page (HTML) and the documentation site's (Markdown): each passes how it
writes a link to a shape, a literal value and plain text."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webcommon.openapi.convert import REF_PREFIX


@dataclass(frozen=True, kw_only=True)
class Writer:
    link: Callable[[str], str]  # a shape's name → a link to it
    literal: Callable[[str], str]  # an enum value's JSON → how it is shown
    plain: Callable[[str], str] = str  # words of the reading itself


def type_reading(schema: dict[str, Any], w: Writer) -> str:
    if "$ref" in schema:
        return w.link(schema["$ref"].removeprefix(REF_PREFIX))
    null = " or null" if schema.get("nullable") else ""
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return (" and " if key == "allOf" else " or ").join(type_reading(s, w) for s in schema[key]) + null
    if "enum" in schema:
        return " or ".join(w.literal(json.dumps(v)) for v in schema["enum"]) + null
    if schema.get("type") == "array":
        return f"array of {type_reading(schema.get('items', {}), w)}" + null
    if schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {type_reading(schema['additionalProperties'], w)}" + null
    return w.plain(str(schema.get("type", "any")) + (f" ({schema['format']})" if "format" in schema else "")) + null
