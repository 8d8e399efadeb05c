"""The API's OpenAPI 3.0.3 document: its routes, from its URL map and the operations recorded on
their views (``webcommon.openapi.spec_types.documented``, beside each route in app.api, app.web,
app.metrics and webcommon.openapi.views). The inference routes are the serving role's
(serving.openapi); the embedded default, which answers both at one address, documents both
(embedded)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from webcommon.openapi.document import build

DESCRIPTION = (
    "trainyard's API: the native routes (/api/v0), MXServer's (/train, /eval, /test, /stop, /gpu), "
    "TorchServe / MMS management (/models) and Fractal's model routes (/api/v1/models). The inference "
    "routes (KServe v2, /predictions, Fractal's /prediction, /api/v0/models/<m>/predict) are the serving "
    "role's: its own /openapi.json describes them, and the embedded default's document (start.sh) has "
    "both. Every request but /ping, /healthz and /v2/health/* carries `Authorization: Bearer <token>`.")


def api_document(app: Flask, extra: list | None = None, description: str = DESCRIPTION) -> dict[str, Any]:
    """The API's document; ``extra`` adds (app, rule filter, NUL hook) sources of another app
    served at the same address. Raises MissingOperation for a route whose view records none."""
    return build("trainyard", [(app, lambda rule: True, True), *(extra or [])],
                 description=description)
