"""Checking real answers against the served OpenAPI document, and recording which (operation,
status) pairs a test module has seen answered."""

from __future__ import annotations

import re

import requests
import schemathesis

TRACE = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")


class Conformance:
    def __init__(self, doc: dict):
        self.doc = doc
        self.schema = schemathesis.openapi.from_dict(doc)
        self.seen: set[tuple[str, str, int]] = set()  # (method, path template, status)
        self._templates = [(re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(p)) + "$"), p)
                           for p in sorted(doc["paths"], key=lambda p: (p.count("{"), p))]

    def template(self, path: str) -> str:
        """The document's path for a concrete one (concrete segments win over parameters)."""
        for pattern, template in self._templates:
            if pattern.match(path):
                return template
        raise AssertionError(f"{path} matches no path of the document")

    def check(self, response: requests.Response) -> requests.Response:
        """Asserts the status is documented for the operation and the body conforms."""
        request = response.request
        path = requests.utils.urlparse(request.url).path
        template, method = self.template(path), request.method
        documented = self.doc["paths"][template][method.lower()]["responses"]
        assert str(response.status_code) in documented, \
            f"{method} {template} answered {response.status_code}, documented {sorted(documented)}: {response.text[:300]}"
        assert not TRACE.search(response.text[:100_000]), response.text[:500]
        if response.headers.get("Content-Type", "").startswith("text/event-stream"):
            pass  # a stream: schemathesis would read the whole of it as one body
        else:
            self.schema[template][method].validate_response(response)
        self.seen.add((method, template, response.status_code))
        return response

    def documented(self, keep=lambda op: True) -> set[tuple[str, str, int]]:  # noqa: ANN001
        return {(method.upper(), path, int(code)) for path, item in self.doc["paths"].items()
                for method, op in item.items() if keep(op) for code in op["responses"]}
