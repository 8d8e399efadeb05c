"""MkDocs hook: the API reference, generated at build time from the service's own OpenAPI
document, so no route is described by hand.

``on_files`` builds the API app in this process as the embedded default composes it (its
document names the serving role's inference routes too: ``embedded.combined_document``), fetches
``GET /openapi.json`` through Flask's test client (no server, no network, no token:
``TRAINYARD_AUTH=off``; ``TRAINYARD_VAR_DIR`` is a temporary directory and the database and
broker URLs are cleared, so nothing under ./var or a configured database is touched), and adds
two generated pages to the site:

- ``reference/endpoints.md``: every path and method, by tag, with its summary, description,
  parameters, request body and responses;
- ``reference/schemas.md``: every shape under ``components/schemas``, field by field;
- ``reference/openapi.json``: the document itself.

A route whose view records no operation (``webcommon.openapi.spec_types.documented``) fails the
document's build, and so this one.
The app's modules stay imported in the MkDocs process: ``mkdocs serve`` shows a change to the
routes after a restart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ENDPOINTS = "reference/endpoints.md"
SCHEMAS = "reference/schemas.md"
DOCUMENT = "reference/openapi.json"  # the document itself, beside the pages made from it
REF_PREFIX = "#/components/schemas/"
METHOD_ORDER = ("get", "post", "put", "patch", "delete")
# What the document is fetched with: no token checks, and every file of the app in a directory
# of its own. None: removed from the environment for the duration.
ENVIRONMENT = {"TRAINYARD_AUTH": "off", "TRAINYARD_DATABASE_URL": "", "TRAINYARD_BROKER_URL": "",
               "PROMETHEUS_MULTIPROC_DIR": None}


def on_files(files: Files, config: Any) -> Files:  # noqa: ANN401 - MkDocsConfig
    root = Path(config.config_file_path).resolve().parent
    doc = fetch_document(root)
    files.append(File.generated(config, ENDPOINTS, content=render_endpoints(doc)))
    files.append(File.generated(config, SCHEMAS, content=render_schemas(doc)))
    files.append(File.generated(config, DOCUMENT, content=json.dumps(doc, indent=1, ensure_ascii=False) + "\n"))
    return files


# -- the document ---------------------------------------------------------------------------

def _embedded_api():  # noqa: ANN202 - a Flask app
    """The API app whose /openapi.json is the embedded default's: the API and the inference routes."""
    from app import create_app
    from embedded import combined_document
    from serving.app import routes_only
    from webcommon.openapi.views import BUILDER

    api, serving = create_app(), routes_only()
    api.extensions[BUILDER] = lambda app: combined_document(app, serving)
    return api


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _reset_settings() -> None:
    """Forget settings an earlier build in this process read (``mkdocs serve`` rebuilds)."""
    for name, module in list(sys.modules.items()):
        reset = getattr(module, "reset_settings", None)
        if name.endswith(".settings") and callable(reset):
            reset()


def fetch_document(root: Path) -> dict[str, Any]:
    """``GET /openapi.json`` of the API app built from the checkout at ``root``."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    with tempfile.TemporaryDirectory(prefix="trainyard-docs-") as var_dir, \
            _environment({**ENVIRONMENT, "TRAINYARD_VAR_DIR": var_dir}):
        _reset_settings()
        logging.disable(logging.WARNING)  # the app's "TRAINYARD_AUTH=off" warning is expected here
        try:
            reply = _embedded_api().test_client().get("/openapi.json")
        except Exception as exc:  # noqa: BLE001 - any failure to build the app stops the build
            raise PluginError(f"openapi_reference: the API app could not build its OpenAPI document "
                              f"({type(exc).__name__}: {exc})") from exc
        finally:
            logging.disable(logging.NOTSET)
            _reset_settings()
    if reply.status_code != 200:
        raise PluginError(f"openapi_reference: GET /openapi.json answered {reply.status_code}: "
                          f"{reply.get_data(as_text=True)[:500]}")
    return reply.get_json()


# -- markdown helpers -------------------------------------------------------------------------

_CODE = re.compile(r"(``?)(.+?)\1")


def text(value: Any) -> str:  # noqa: ANN401
    """Prose from the document for one line or table cell: ``code`` spans kept, the rest with
    HTML and markdown's own characters (pipes included) escaped outside them."""
    out, last = [], 0
    value = " ".join(str(value).split())
    for m in _CODE.finditer(value):
        out.append(_plain(value[last:m.start()]))
        out.append(code(m.group(2)))
        last = m.end()
    out.append(_plain(value[last:]))
    return "".join(out)


def _plain(value: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = re.sub(r"([\\*_\[\]|])", r"\\\1", value)
    return value


def code(value: str) -> str:
    """A code span (Python-Markdown's tables do not split a cell at a pipe inside one)."""
    fence = "``" if "`" in value else "`"
    return f"{fence}{value}{fence}" if fence == "`" else f"{fence} {value} {fence}"


def anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name)


def schema_link(name: str, here: str) -> str:
    page = "" if here == SCHEMAS else "schemas.md"
    return f"[{text(name)}]({page}#{anchor(name)})"


def type_of(schema: dict[str, Any], here: str) -> str:
    """A short reading of a schema: a linked shape name, array of X, X or Y, an enum, a type."""
    from webcommon.openapi.reading import Writer, type_reading

    return type_reading(schema, Writer(link=lambda name: schema_link(name, here), literal=code))


def constraints(schema: dict[str, Any]) -> str:
    """Bounds, lengths, pattern and default, as one cell."""
    parts = []
    for key, word in (("minimum", "≥"), ("maximum", "≤"), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")):
        if key in schema and not isinstance(schema[key], bool):
            parts.append(f"{word} {schema[key]}")
    if schema.get("exclusiveMinimum") is True and "minimum" in schema:
        parts = [p.replace(f"≥ {schema['minimum']}", f"> {schema['minimum']}") for p in parts]
    if schema.get("exclusiveMaximum") is True and "maximum" in schema:
        parts = [p.replace(f"≤ {schema['maximum']}", f"< {schema['maximum']}") for p in parts]
    for key, word in (("minLength", "length ≥"), ("maxLength", "length ≤"), ("minItems", "items ≥"),
                      ("maxItems", "items ≤")):
        if key in schema:
            parts.append(f"{word} {schema[key]}")
    if "pattern" in schema:
        parts.append("pattern " + code(schema["pattern"]))
    if "default" in schema:
        parts.append("default " + code(json.dumps(schema["default"])))
    return "; ".join(parts)


def content_of(content: dict[str, Any], here: str) -> str:
    """``media type``: shape, one per media type."""
    return "<br>".join(f"{code(media)}: {type_of(c.get('schema', {}), here)}" if media else "no body"
                       for media, c in content.items()) or "no body"


def table(header: list[str], rows: list[list[str]], keep: int = 1) -> list[str]:
    """A markdown table without the columns (after the first ``keep``) that are empty in every row."""
    columns = [i for i in range(len(header)) if i < keep or any(row[i] for row in rows)]
    lines = ["| " + " | ".join(header[i] for i in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(row[i] for i in columns) + " |" for row in rows]
    return lines + [""]


def heading(path: str, method: str, op: dict[str, Any]) -> str:
    return f"### {code(method.upper() + ' ' + path)} {{#{op['operationId']}}}"


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in sorted(item, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99):
            yield path, method, item[method]


# -- the pages --------------------------------------------------------------------------------

def render_endpoints(doc: dict[str, Any]) -> str:
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, method, op in _operations(doc):
        by_tag.setdefault(op["tags"][0], []).append((path, method, op))
    tags = sorted(by_tag, key=str.lower)
    count = sum(len(ops) for ops in by_tag.values())
    info = doc["info"]
    lines = [
        "# API reference",
        "",
        f"*Generated when the site is built from `GET /openapi.json` (OpenAPI {doc['openapi']}, "
        f"{text(info['title'])} {text(info['version'])}): {count} operations on {len(doc['paths'])} paths. "
        "Do not edit: the routes and their shapes live on the views (`@documented(Op(...))`, beside "
        "each route) and the pydantic models they name.*",
        "",
        text(info.get("description", "")),
        "",
        "The document itself: [openapi.json](openapi.json). "
        "A running service serves the same document at `/openapi.json` and renders it at `/docs`. "
        "How it is built, the statuses every route shares and the conventions of the answers: "
        "[Conventions and OpenAPI](../api.md). The shapes named below are on "
        "[API schemas](schemas.md).",
        "",
        "Operations marked *no token* answer without `Authorization: Bearer`; every other one needs it.",
        "",
        "## Index",
        "",
        "| area | method and path | summary |",
        "| --- | --- | --- |",
    ]
    for tag in tags:
        for path, method, op in by_tag[tag]:
            lines.append(f"| {text(tag)} | [{code(method.upper() + ' ' + path)}](#{op['operationId']}) "
                         f"| {text(op.get('summary', ''))} |")
    for tag in tags:
        lines += ["", f"## {text(tag)}", ""]
        for path, method, op in by_tag[tag]:
            lines += render_operation(path, method, op)
    return "\n".join(lines) + "\n"


def render_operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    here = ENDPOINTS
    summary = text(op.get("summary", ""))
    if op.get("security") == []:
        summary += " *(no token)*"
    lines = [heading(path, method, op), "", summary, ""]
    if op.get("description"):
        lines += [text(op["description"]), ""]
    params = op.get("parameters", [])
    if params:
        rows = [[code(p["name"]), p["in"], type_of(p.get("schema", {}), here), "yes" if p.get("required") else "no",
                 constraints(p.get("schema", {})), text(p.get("description", ""))] for p in params]
        lines += ["**Parameters**", ""] + table(["name", "in", "type", "required", "constraints", "description"],
                                                rows, keep=4)
    body = op.get("requestBody")
    if body:
        need = "required" if body.get("required") else "optional"
        lines += [f"**Request body** ({need}): {content_of(body.get('content', {}), here)}", ""]
    rows = [[status, text(reply.get("description", "")), content_of(reply.get("content", {}), here)]
            for status, reply in op["responses"].items()]
    return lines + ["**Responses**", ""] + table(["status", "meaning", "body"], rows, keep=3)


def render_schemas(doc: dict[str, Any]) -> str:
    schemas = doc.get("components", {}).get("schemas", {})
    used_by: dict[str, set[str]] = {}
    for path, method, op in _operations(doc):
        for ref in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(op)):
            used_by.setdefault(ref, set()).add(f"[{code(method.upper() + ' ' + path)}]"
                                               f"(endpoints.md#{op['operationId']})")
    lines = [
        "# API schemas",
        "",
        f"*Generated with the [API reference](endpoints.md) from `GET /openapi.json`: the "
        f"{len(schemas)} shapes under `components/schemas`, as the service's pydantic models "
        "(`app/schemas/`) describe them.*",
        "",
    ]
    for name, schema in schemas.items():
        lines += [f"## {text(name)} {{#{anchor(name)}}}", ""]
        if schema.get("description"):
            lines += [text(schema["description"]), ""]
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        if props:
            rows = [[code(prop), type_of(sub, SCHEMAS), "yes" if prop in required else "no", constraints(sub),
                     text(sub.get("description", ""))] for prop, sub in props.items()]
            lines += table(["field", "type", "required", "constraints", "description"], rows, keep=3)
            if schema.get("additionalProperties") is not False:
                lines += ["Other keys may appear beside these.", ""]
        else:
            lines += [f"A value of type {type_of(schema, SCHEMAS)}.", ""]
        if name in used_by:
            lines += ["Used by: " + ", ".join(sorted(used_by[name])) + ".", ""]
    return "\n".join(lines) + "\n"
