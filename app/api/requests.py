"""Reading request bodies and query strings with a 4xx for every way they can be wrong."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from webcommon.errors import ApiError
from contracts.settings import get_settings

JSON_ERRORS = (400, 413, 415)  # json_body's refusals, for the OpenAPI document: unparseable, too large, not JSON


def json_body(any_content_type: bool = False) -> dict[str, Any]:
    """The JSON object sent. Raises ApiError 413 (too large), 415 (not JSON), 400 (unparseable
    or not an object). With ``any_content_type`` a body that parses as JSON is taken whatever
    its Content-Type says (NEURO-LEARN's web client posts a JSON string, which its HTTP library
    labels application/x-www-form-urlencoded); one that does not parse is then 415 unless it
    was labelled JSON (400)."""
    limit = get_settings().max_json_kb * 1024
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the JSON body is larger than {limit // 1024} KiB")
    if not request.is_json and not any_content_type:
        raise ApiError(415, "the body must be JSON (Content-Type: application/json)")
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise ApiError(413, f"the JSON body is larger than {limit // 1024} KiB")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        data = None
    if data is None and not request.is_json:
        raise ApiError(415, "the body must be JSON")
    if data is None:
        raise ApiError(400, "the body is not valid JSON", [{"field": "body", "problem": "not valid JSON"}])
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object",
                       [{"field": "body", "problem": "must be a JSON object"}])
    return data


def bad_query(name: str, problem: str) -> ApiError:
    """A bad query parameter: always 400, naming the parameter."""
    return ApiError(400, f"query parameter {name} {problem}", [{"field": name, "problem": problem}])


def int_arg(name: str, default: int, low: int, high: int) -> int:
    return int(_number_arg(name, default, low, high, int, "an integer"))


def float_arg(name: str, default: float, low: float, high: float) -> float:
    return _number_arg(name, default, low, high, float, "a number")


def _number_arg(name: str, default, low, high, kind, what: str):  # noqa: ANN001, ANN202
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise bad_query(name, f"must be {what}") from None
    if not low <= value <= high:  # also refuses nan
        raise bad_query(name, f"must be between {low} and {high}")
    return value


def choice_arg(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = request.args.get(name) or default
    if value not in choices:
        raise bad_query(name, f"must be one of {', '.join(choices)}")
    return value
