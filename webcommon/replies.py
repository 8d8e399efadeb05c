"""Views answer with the reply's pydantic model (``contracts.replies``): ``ModelApp`` is the Flask
app of the API and of the serving role; a view of either may return a ``BaseModel``, or
``(model, status)`` / ``(model, status, headers)``, as it may return a dict. The model is written
as JSON with the keys it was given (``exclude_unset``): a key the view leaves out stays out, and
the model's field types decide each value (an ``int | float`` field keeps 3 an integer).

So a reply's shape has one definition, the model the OpenAPI document is built from, and a view
that builds a reply the model does not describe fails where it builds it."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from pydantic import BaseModel


def model_json(model: BaseModel) -> bytes:
    """The model as the body of a reply: compact JSON of the keys it was given."""
    return model.model_dump_json(exclude_unset=True).encode()


def model_response(model: BaseModel, status: int | None = None) -> Response:
    """The model as an ``application/json`` response."""
    response = Response(model_json(model), mimetype="application/json")
    if status is not None:
        response.status_code = status
    return response


class ModelApp(Flask):
    """Flask, whose views may also return a pydantic model (alone or first in a tuple)."""

    def make_response(self, rv: Any) -> Response:
        if isinstance(rv, BaseModel):
            rv = model_response(rv)
        elif isinstance(rv, tuple) and rv and isinstance(rv[0], BaseModel):
            rv = (model_response(rv[0]), *rv[1:])
        return super().make_response(rv)
