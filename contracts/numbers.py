"""Numeric field types for forms: numbers or numeric strings, never booleans, always finite."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("must be a number, not an empty string")
    return value


Int = Annotated[int, BeforeValidator(_no_bool)]
Float = Annotated[float, BeforeValidator(_no_bool)]
