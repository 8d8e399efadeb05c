"""Every failure becomes a JSON answer in the original's envelope; only this module knows
HTTP status codes. ``error_num`` is the HTTP status (0 on success)."""

from __future__ import annotations

import logging
from typing import Any

from collections.abc import Callable

from flask import Blueprint, Flask, jsonify
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from dao.errors import DatasetExists, DatasetInUse, InvalidTransition, ModelExists, NotFound

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, msg: str, errors: list[dict[str, str]] | None = None,
                 **extra: Any):
        super().__init__(msg)
        self.status, self.msg, self.errors, self.extra = status, msg, errors or [], extra


def field_errors(problems: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"field": field, "problem": problem} for field, problem in problems]


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


def body(code: int, msg: str, errors: list | None = None, **extra: Any):
    payload = {"error_num": code, "msg": msg, **extra}
    if errors:
        payload["errors"] = errors
    return jsonify(payload), code


def register_model_errors(bp: Blueprint, reply: Callable[[int, str], Any]) -> None:
    """The registry's domain errors and HTTP errors on a blueprint that answers in a foreign
    envelope (MMS, Fractal): ``reply(status, message)`` shapes the answer."""
    bp.register_error_handler(NotFound, lambda exc: reply(404, str(exc)))
    bp.register_error_handler(ModelExists, lambda exc: reply(409, str(exc)))
    bp.register_error_handler(HTTPException, lambda exc: reply(exc.code or 500, exc.description or exc.name))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return body(exc.status, exc.msg, exc.errors, **exc.extra)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return body(422, "the request has invalid fields", field_errors(pydantic_problems(exc)))

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        return body(404, str(exc))

    from app.auth.principal import Hidden

    @app.errorhandler(Hidden)
    def _hidden(exc: Hidden):
        return body(404, "no such resource")

    @app.errorhandler(InvalidTransition)
    def _conflict(exc: InvalidTransition):
        return body(409, str(exc), status=exc.status)

    @app.errorhandler(DatasetExists)
    @app.errorhandler(DatasetInUse)
    @app.errorhandler(ModelExists)
    def _dataset_conflict(exc: Exception):
        return body(409, str(exc))

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError):
        log.warning("conflicting write: %s", exc.orig)
        return body(409, "the request conflicts with a concurrent change; try again")

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError):
        log.error("database unavailable: %s", exc.orig)
        return body(503, "the database is unavailable; try again shortly")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        response, code = body(exc.code or 500, _http_message(exc))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response, code

    @app.errorhandler(Exception)
    def _internal(exc: Exception):
        log.exception("unhandled error")
        return body(500, "internal error; the service logged the details")


def _http_message(exc: HTTPException) -> str:
    if exc.code == 413:
        from app.uploads import limit_message  # app.uploads raises ApiError from here

        return limit_message()
    messages = {
        404: "no such resource",
        405: "method not allowed on this resource",
        415: "the body must be JSON (Content-Type: application/json)",
    }
    return messages.get(exc.code or 0, exc.description or exc.name)
