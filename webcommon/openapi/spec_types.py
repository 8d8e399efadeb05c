"""What the document says about one operation, as data: its shapes, parameters, statuses; and
``documented``, which records an operation on the view that answers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel


@dataclass(frozen=True)
class Raw:
    """A body that is not one of our pydantic shapes: bytes, text, a picture, a stream."""

    media_type: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string", "format": "binary"})


Shape = type[BaseModel] | Raw | tuple  # a tuple: any of those shapes (anyOf)


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    where: str = "query"
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Op:
    """One method of one URL rule. ``replies``: status → shape, the successful ones and the
    refusals particular to it; ``errors`` adds refusals in the protocol's error envelope."""

    summary: str
    tag: str
    replies: dict[int, Shape]
    errors: tuple[int, ...] = ()
    body: Shape | None = None
    body_required: bool = True
    query: tuple[Param, ...] = ()
    open: bool = False  # no bearer token needed (health routes)
    database: bool = True  # reads the database: 503 when it is unreachable
    description: str = ""


OPERATIONS = "__openapi__"  # on a view function: {method (None: every method of its rules): Op}
View = TypeVar("View", bound=Callable[..., Any])


def documented(op: Op, *, method: str | None = None) -> Callable[[View], View]:
    """Record ``op`` on the view for ``method`` (None: every method of the rules the view is
    registered under); a view answering several methods with different operations takes one
    decorator per method. Put it under the route decorator; it returns the same function."""
    def record(view: View) -> View:
        ops = getattr(view, OPERATIONS, None)
        if ops is None:
            ops = {}
            setattr(view, OPERATIONS, ops)
        key = method.upper() if method else None
        if key in ops:
            raise ValueError(f"{getattr(view, '__qualname__', view)} is already documented for {key or 'every method'}")
        ops[key] = op
        return view
    return record


def operation_of(view: Callable[..., Any] | None, method: str) -> Op | None:
    """The operation recorded on ``view`` for ``method`` (a bound method: on its function)."""
    ops = getattr(view, OPERATIONS, None) or {}
    return ops.get(method.upper(), ops.get(None))


def fields_as_query(model: type[BaseModel]) -> tuple[Param, ...]:
    """A query parameter per field of ``model``, with the field's type, bounds and default (an
    optional field is documented by its non-null type)."""
    def schema(prop: dict[str, Any]) -> dict[str, Any]:
        typed = next((s for s in prop.get("anyOf", ()) if s.get("type") != "null"), prop)
        default = {"default": prop["default"]} if prop.get("default") is not None else {}
        return {k: v for k, v in typed.items() if k != "title"} | default
    properties = model.model_json_schema()["properties"]
    return tuple(Param(name, schema(prop), description=prop.get("description", "")) for name, prop in properties.items())


def string(**extra: Any) -> dict[str, Any]:
    return {"type": "string", **extra}


def integer(low: int | None = None, high: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    if low is not None:
        schema["minimum"] = low
    if high is not None:
        schema["maximum"] = high
    return schema


def number(low: float, high: float) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high}


def choice(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}
