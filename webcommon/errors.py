"""A request refused, as data: ``ApiError`` (a status, a message and one entry per bad field,
at most ``MAX_ERRORS`` of them and one saying how many more) and the helpers that name each bad
field's path. Raised by the API and the shared access
checks; the API's handlers (app.errors) and the serving role turn it into an answer."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

# No answer lists more bad fields than this; one more entry says how many were left out.
MAX_ERRORS = 50


class ApiError(Exception):
    def __init__(self, status: int, msg: str, errors: list[dict[str, str]] | None = None,
                 **extra: Any):
        super().__init__(msg)
        self.status, self.msg, self.errors, self.extra = status, msg, capped(errors or []), extra


_MORE = "more problems not listed (an answer lists at most {})".format(MAX_ERRORS)


def capped(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """The first MAX_ERRORS entries and one saying how many more there were, so that no error
    body grows with its input. A list it capped already (ending in that entry) stays as it is."""
    if len(errors) <= MAX_ERRORS or (len(errors) == MAX_ERRORS + 1 and errors[-1]["problem"].endswith(_MORE)):
        return errors
    return [*errors[:MAX_ERRORS], {"field": "body", "problem": f"{len(errors) - MAX_ERRORS} {_MORE}"}]


def field_errors(problems: list[tuple[str, str]]) -> list[dict[str, str]]:
    return capped([{"field": field, "problem": problem} for field, problem in problems])


def invalid(problems: list[tuple[str, str]], msg: str = "the form has invalid fields") -> ApiError:
    return ApiError(422, msg, field_errors(problems))


def _loc(loc: tuple) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors(include_url=False):
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "extra_forbidden":
            message = "is not a known field"
        problems.append((_loc(err["loc"]), message))
    return problems
