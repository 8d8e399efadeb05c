"""The OpenAPI document: it covers every route of both apps, validates as OpenAPI 3.0, speaks
3.0's dialect only (no JSON Schema 2020-12 left), and is served at /openapi.json and /docs."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from openapi_spec_validator import validate

from app import create_app
from app.openapi import api_document
from embedded import combined_document
from serving.inference_paths import is_inference
from serving.openapi import serving_document
from webcommon.openapi.convert import to_openapi30
from webcommon.openapi.common import HTML
from webcommon.openapi.document import IGNORED_METHODS, MissingOperation, build, openapi_path
from webcommon.openapi.spec_types import Op, documented
from serving.app import routes_only

APP = create_app()
SERVING = routes_only()
API_DOC = api_document(APP)
EMBEDDED_DOC = combined_document(APP, SERVING)
SERVING_DOC = serving_document(SERVING)
OPEN = {"/ping", "/healthz", "/v2/health/live", "/v2/health/ready"}


def is_open(path: str) -> bool:
    """Health routes, and the dashboard's page shells (they hold no data; a browser cannot send
    a bearer token when it navigates)."""
    return path in OPEN or path == "/" or path.startswith("/ui/")


def _operations(doc: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in doc["paths"].items() for method in item}


def _routes(app: Flask, keep=lambda rule: True) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(openapi_path(rule.rule)[0], method) for rule in app.url_map.iter_rules() if keep(rule.rule)
            for method in rule.methods - IGNORED_METHODS}


def test_every_route_of_the_api_is_in_its_document():
    assert _routes(APP) == _operations(API_DOC)


def test_the_embedded_default_documents_the_api_and_the_inference_routes_it_answers():
    assert _routes(APP) | _routes(SERVING, is_inference) == _operations(EMBEDDED_DOC)


def test_every_route_of_the_serving_role_is_in_its_document():
    assert _routes(SERVING) == _operations(SERVING_DOC)


def test_a_route_whose_view_records_no_operation_fails_the_build():
    app = create_app()
    app.add_url_rule("/api/v0/forgotten", "forgotten", lambda: "")
    with pytest.raises(MissingOperation, match="/api/v0/forgotten"):
        build("x", [(app, lambda rule: True, True)])


def test_a_method_the_view_does_not_document_fails_the_build():
    """An operation recorded for one method does not cover another method of the same rule."""
    app = Flask("x")
    app.add_url_rule("/half", "half", documented(Op("Half", "x", {200: HTML}), method="GET")(lambda: ""),
                     methods=["GET", "POST"])
    with pytest.raises(MissingOperation, match="POST /half"):
        build("x", [(app, lambda rule: True, True)])


@pytest.mark.parametrize("doc", [API_DOC, EMBEDDED_DOC, SERVING_DOC], ids=["api", "embedded", "serving"])
def test_the_document_is_valid_openapi_3_0(doc):
    assert doc["openapi"] == "3.0.3"
    validate(doc)


@pytest.mark.parametrize("doc", [API_DOC, EMBEDDED_DOC, SERVING_DOC], ids=["api", "embedded", "serving"])
def test_no_json_schema_2020_12_is_left(doc):
    text = json.dumps(doc)
    for keyword in ('"$defs"', '"const"', '"prefixItems"', '"type": "null"', '"$schema"', '"ge"', '"le"'):
        assert keyword not in text, keyword
    assert "#/$defs/" not in text


@pytest.mark.parametrize("doc", [API_DOC, EMBEDDED_DOC, SERVING_DOC], ids=["api", "embedded", "serving"])
def test_every_route_but_the_health_ones_needs_a_token_and_says_401(doc):
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "a trainyard token"}
    assert doc["security"] == [{"bearer": []}]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if is_open(path):
                assert op["security"] == [] and "401" not in op["responses"], (method, path)
            else:
                assert "security" not in op and "401" in op["responses"], (method, path)


def test_every_ref_resolves():
    for doc in (API_DOC, EMBEDDED_DOC, SERVING_DOC):
        text = json.dumps(doc)
        for name in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
            assert name in doc["components"]["schemas"], name


def test_optional_fields_become_nullable():
    schema = to_openapi30({"anyOf": [{"type": "integer"}, {"type": "null"}], "ge": 1, "default": None})
    assert schema == {"type": "integer", "minimum": 1, "nullable": True, "default": None}
    ref = to_openapi30({"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]})
    assert ref == {"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": True}


def test_2020_12_keywords_are_rewritten():
    assert to_openapi30({"const": "x"}) == {"enum": ["x"], "type": "string"}
    assert to_openapi30({"type": "number", "exclusiveMinimum": 0}) == \
        {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    assert to_openapi30({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}) == \
        {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}, "minItems": 2, "maxItems": 2}
    assert to_openapi30({"type": ["string", "null"]}) == {"type": "string", "nullable": True}


def test_the_document_and_its_page_are_served(monkeypatch):
    from contracts.settings import reset_settings

    assert APP.test_client().get("/openapi.json").status_code == 401  # a token, as every route but health
    monkeypatch.setenv("TRAINYARD_AUTH", "off")
    reset_settings()
    try:
        client = create_app().test_client()
        served = client.get("/openapi.json")
        assert served.status_code == 200 and served.get_json()["paths"].keys() == API_DOC["paths"].keys()
        page = client.get("/docs")
        assert page.status_code == 200 and page.mimetype == "text/html"
    finally:
        monkeypatch.delenv("TRAINYARD_AUTH")
        reset_settings()


def test_the_page_lists_every_operation():
    from webcommon.openapi.page import render

    page = render(API_DOC)
    for op in (op for item in API_DOC["paths"].values() for op in item.values()):
        assert f'id="{op["operationId"]}"' in page
    assert "<script" not in page and "http" not in page.split("<body>")[0]
