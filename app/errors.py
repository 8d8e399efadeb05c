"""How the API answers a failure: every exception becomes a JSON answer in the original's
envelope, ``error_num`` being the HTTP status (0 on success). The exceptions themselves (ApiError
and the domain errors) are defined elsewhere (webcommon.errors, dao.errors); this module only
maps them to answers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.uploads import limit_message
from contracts.replies import ApiErrorReply
from dao.errors import DatasetExists, DatasetInUse, InvalidTransition, ModelExists, NotFound
from webcommon.errors import ApiError, field_errors, pydantic_problems
from webcommon.principal import Hidden
from webcommon.replies import model_response

log = logging.getLogger(__name__)


def body(code: int, msg: str, errors: list | None = None, **extra: Any):
    """(the refusal as ``ApiErrorReply``'s response, the status); ``errors`` only when there are some."""
    payload = {"error_num": code, "msg": msg, **extra}
    if errors:
        payload["errors"] = errors
    return model_response(ApiErrorReply.model_validate(payload)), code


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
        return limit_message(exc)
    messages = {
        404: "no such resource",
        405: "method not allowed on this resource",
        415: "the body must be JSON (Content-Type: application/json)",
    }
    return messages.get(exc.code or 0, exc.description or exc.name)
