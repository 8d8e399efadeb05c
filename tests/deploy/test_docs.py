"""The documentation: the MkDocs site builds with ``--strict`` (no broken link or anchor, no page
left out of the nav), its API reference is generated from the service's own ``/openapi.json``
and lists every operation of it, the README stays a short front page, and every setting of
``Settings`` is documented somewhere."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
MKDOCS = Path(sys.executable).parent / "mkdocs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run([str(MKDOCS), "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
                          "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


def _text(page: Path) -> str:
    return html.unescape(page.read_text())


def test_every_page_is_built(site: Path) -> None:
    """Each markdown page under docs/ became a page of the site (strict mode already refuses a
    page missing from the nav)."""
    for page in DOCS.rglob("*.md"):
        rel = page.relative_to(DOCS)
        built = site / ("index.html" if rel.name == "index.md" else rel.with_suffix("") / "index.html")
        assert built.is_file(), f"{rel} was not built"
    assert not (site / "hooks").exists(), "the hook is not a page of the site"


def test_the_api_reference_names_real_routes(site: Path) -> None:
    text = _text(site / "reference" / "endpoints" / "index.html")
    for route in ("POST /api/v0/new_task", "GET /api/v0/tasks/{task_id}", "POST /api/v0/tasks/{task_id}/stop",
                  "POST /v2/models/{name}/infer", "POST /predictions/{name}", "PUT /api/v1/models/{name}",
                  "POST /train", "GET /api/v0/whoami"):
        assert f"<code>{route}</code>" in text, route
    schemas = _text(site / "reference" / "schemas" / "index.html")
    assert 'id="schema-NewTaskForm"' in schemas and "param_set" in schemas


def test_the_api_reference_lists_every_operation_of_the_document(site: Path) -> None:
    """The page is made from the document, not written: each (method, path) of the
    /openapi.json the build fetched has its heading, with the document's summary."""
    doc = json.loads((site / "reference" / "openapi.json").read_text())
    assert doc["openapi"].startswith("3.") and len(doc["paths"]) > 50
    text = _text(site / "reference" / "endpoints" / "index.html")
    headings = set(re.findall(r'<h3 id="([^"]+)">', text))
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["operationId"] in headings, f"{method.upper()} {path}"
            assert f"<code>{method.upper()} {path}</code>" in text, f"{method.upper()} {path}"
    assert sum(len(item) for item in doc["paths"].values()) == len(headings)


def test_the_readme_is_a_short_front_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    assert "./start.sh" in text and "./test.sh" in text
    for page in sorted(DOCS.glob("*.md")):
        assert f"(docs/{page.name})" in text, f"README links docs/{page.name}"


def _settings_fields() -> list[str]:
    from contracts.settings import Settings

    return list(Settings.model_fields)


def test_every_setting_is_documented() -> None:
    """Field ``foo_bar`` of Settings is the variable ``TRAINYARD_FOO_BAR``; each is named in
    docs/ or the README (as a whole name: TRAINYARD_AUTH is not TRAINYARD_AUTH_FAILURES_...)."""
    text = README.read_text() + "".join(p.read_text() for p in DOCS.rglob("*.md"))
    missing = [f"TRAINYARD_{field.upper()}" for field in _settings_fields()
               if not re.search(rf"TRAINYARD_{field.upper()}(?![A-Z0-9_])", text)]
    assert not missing, f"settings not documented in docs/ or README.md: {missing}"
