"""The serving role's OpenAPI document, built from its routes and the operations recorded on their
views (``webcommon.openapi.spec_types.documented``, in serving.api_* and serving.app). The
embedded default adds the inference routes to the API's document where it composes the two
apps (embedded)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from webcommon.openapi.document import build

DESCRIPTION = "The serving role alone (start.sh serve): inference in four protocols, health, metrics."

PREDICT_ERRORS = (400, 404, 409, 413, 422, 503)  # what every prediction route may refuse


def serving_document(app: Flask) -> dict[str, Any]:
    return build("trainyard serving", [(app, lambda rule: True, False)], description=DESCRIPTION)
