"""schemathesis against a running stack (PostgreSQL, Redis, a worker, the reaper), driven by the
document the API serves: no 5xx, every answer (status, content type, body) as the document says,
no stack trace in any body. Bounded: FUZZ_EXAMPLES cases per operation.

The inference routes are left out here: the API role does not serve them (the serving role's
own tests cover its routes)."""

from __future__ import annotations

import json
import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from app import create_app
from app.openapi import api_document

FUZZ_EXAMPLES = int(os.environ.get("TRAINYARD_FUZZ_EXAMPLES", "12"))
SERVING_TAGS = {"KServe v2", "serving"}
TRACE = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")
SENT: list[tuple[str, int]] = []  # (operation, status) of every request sent


def _document() -> dict:
    doc = api_document(create_app())
    for path in list(doc["paths"]):
        for method in list(doc["paths"][path]):
            op = doc["paths"][path][method]
            if op["tags"][0] in SERVING_TAGS or "/prediction" in path or path.startswith("/predictions"):
                del doc["paths"][path][method]
        if not doc["paths"][path]:
            del doc["paths"][path]
    return doc


schema = schemathesis.openapi.from_dict(_document())


def _no_trace(ctx, response, case):  # noqa: ANN001, ANN202 - schemathesis's check signature
    text = response.content.decode("utf-8", "replace")
    assert not TRACE.search(text), f"a stack trace in the body: {text[:500]}"


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if SENT:
        server_errors = sum(1 for _, code in SENT if code >= 500)
        print(f"\nfuzz: {len(SENT)} requests over {len({op for op, _ in SENT})} operations, "
              f"{server_errors} answered 5xx")
        if os.environ.get("FUZZ_LOG"):
            with open(os.environ["FUZZ_LOG"], "w") as out:
                json.dump(SENT, out)


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_fuzz(case, stack):  # noqa: ANN001
    headers = dict(getattr(stack, "headers", {}) or {})
    response = case.call(base_url=stack.url, headers=headers, timeout=30)
    SENT.append((case.operation.label, response.status_code))
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance, response_schema_conformance, _no_trace])
