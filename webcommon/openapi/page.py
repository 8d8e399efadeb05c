"""The reference page: the OpenAPI document rendered as one static HTML page on the server."""

from __future__ import annotations

from html import escape
from typing import Any

from webcommon.openapi.reading import Writer, type_reading

STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2em}code,pre{font:13px ui-monospace,monospace}
.op{border:1px solid #ddd;border-radius:6px;margin:.6em 0;padding:.4em .8em}
.m{display:inline-block;min-width:4.5em;font-weight:bold;text-transform:uppercase}
.get{color:#1565c0}.post{color:#2e7d32}.put{color:#ef6c00}.delete{color:#c62828}
table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #e3e3e3;padding:.15em .5em;text-align:left;
vertical-align:top}details summary{cursor:pointer}.open{color:#777;font-size:90%}"""


HTML = Writer(link=lambda name: f'<a href="#schema-{escape(name)}">{escape(name)}</a>', literal=escape, plain=escape)


def _type(schema: dict[str, Any]) -> str:
    return type_reading(schema, HTML)


def _content(content: dict[str, Any]) -> str:
    return "<br>".join(f"<code>{escape(media)}</code>: {_type(c.get('schema', {}))}" for media, c in content.items())


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                   f"<td>{_type(p['schema'])}</td><td>{'required' if p.get('required') else ''}</td>"
                   f"<td>{escape(p.get('description', ''))}</td></tr>" for p in op.get("parameters", []))
    body = op.get("requestBody")
    answers = "".join(f"<tr><td>{escape(code)}</td><td>{escape(r['description'])}</td>"
                      f"<td>{_content(r.get('content', {}))}</td></tr>" for code, r in op["responses"].items())
    open_note = ' <span class="open">(no token)</span>' if op.get("security") == [] else ""
    return (f'<div class="op" id="{escape(op["operationId"])}"><span class="m {method}">{method}</span> '
            f"<code>{escape(path)}</code> — {escape(op.get('summary', ''))}{open_note}"
            + (f"<p>{escape(op['description'])}</p>" if op.get("description") else "")
            + (f"<table><tr><th>parameter</th><th>in</th><th>type</th><th></th><th></th></tr>{rows}</table>"
               if rows else "")
            + (f"<p>Body ({'required' if body.get('required') else 'optional'}): {_content(body['content'])}</p>"
               if body else "")
            + f"<table><tr><th>status</th><th>meaning</th><th>body</th></tr>{answers}</table></div>")


def _schema(name: str, schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = "".join(f"<tr><td><code>{escape(prop)}</code></td><td>{_type(s)}</td>"
                   f"<td>{'required' if prop in required else ''}</td>"
                   f"<td>{escape(s.get('description', ''))}</td></tr>"
                   for prop, s in schema.get("properties", {}).items())
    extra = "" if schema.get("additionalProperties") is False or "properties" not in schema else \
        "<p>Other keys may appear beside these.</p>"
    text = escape(schema.get("description", ""))
    return (f'<div class="op" id="schema-{escape(name)}"><b>{escape(name)}</b> <p>{text}</p>'
            + (f"<table>{rows}</table>" if rows else f"<p>{_type(schema)}</p>") + extra + "</div>")


def render(doc: dict[str, Any]) -> str:
    by_tag: dict[str, list[str]] = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            by_tag.setdefault(op["tags"][0], []).append(_operation(path, method, op))
    sections = "".join(f"<h2>{escape(tag)}</h2>{''.join(ops)}" for tag, ops in sorted(by_tag.items()))
    shapes = "".join(_schema(n, s) for n, s in doc["components"]["schemas"].items())
    info = doc["info"]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(info['title'])} API</title>"
            f"<style>{STYLE}</style></head><body><h1>{escape(info['title'])} {escape(info['version'])}</h1>"
            f"<p>{escape(info.get('description', ''))}</p><p>OpenAPI {escape(doc['openapi'])}: "
            f"<a href='openapi.json'>openapi.json</a></p>{sections}<h2>Shapes</h2>{shapes}</body></html>")
