"""MkDocs hooks of the manual: the browser tests' screenshots and the generated API reference.

- Screenshots: a page names ``screenshots/NAME.png``; the file is the browser tests' latest
  (``artifacts/screenshots/NAME.png``, written by ``tests/api/test_browser.py``) where they
  have run, else the copy committed in ``docs/screenshots/``.
- The HTTP reference: ``reference/openapi.json`` is the service's own OpenAPI document, and
  the marker ``<!-- openapi:paths -->`` in a page becomes a table of its operations.
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

REPO_ROOT = Path(__file__).resolve().parent.parent
FRESH_SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
OPENAPI_MARKER = "<!-- openapi:paths -->"
LAYERS_MARKER = "<!-- layers:table -->"
METHODS = ("get", "post", "put", "patch", "delete")


@cache
def openapi_document() -> dict[str, Any]:
    """Return the service's OpenAPI document, built from the app as the service serves it."""
    from api.app import create_app
    from api.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        # Its stores in a throwaway folder, never a deployment's database or data (the document
        # does not depend on them).
        own = Settings(data_dir=Path(tmp) / "data", cache_dir=Path(tmp) / "cache", database_url=None)
        return create_app(own).openapi()


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def operations_table(document: dict[str, Any]) -> str:
    """Return a Markdown table of every operation of ``document``: method, path, summary."""
    rows = ["| method | path | what |", "|---|---|---|"]
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                summary = item[method].get("summary") or item[method].get("description", "").split("\n")[0]
                rows.append(f"| `{method.upper()}` | `{_cell(path)}` | {_cell(summary)} |")
    return "\n".join(rows) + "\n"


def layers_table() -> str:
    """Return a Markdown table of the layer registry (``layers.registry.LAYERS``), as ``GET /layers`` lists it."""
    from layers.registry import LAYERS

    rows = ["| id | what | geometry | CRS | source | notes |", "|---|---|---|---|---|---|"]
    for spec in LAYERS:
        cells = (f"`{spec.id}`", spec.title, spec.geometry_type, spec.crs, spec.attribution, spec.description)
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Use the browser tests' fresh screenshots, and add the OpenAPI document."""
    for file in list(files):
        fresh = FRESH_SCREENSHOTS / Path(file.src_uri).name
        if file.src_uri.startswith("screenshots/") and fresh.is_file():
            files.remove(file)
            files.append(File.generated(config, file.src_uri, abs_src_path=str(fresh)))
    document = json.dumps(openapi_document(), indent=1, ensure_ascii=False)
    files.append(File.generated(config, "reference/openapi.json", content=document))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace the markers with the table of operations and the table of layers."""
    if OPENAPI_MARKER in markdown:
        markdown = markdown.replace(OPENAPI_MARKER, operations_table(openapi_document()))
    if LAYERS_MARKER in markdown:
        markdown = markdown.replace(LAYERS_MARKER, layers_table())
    return markdown
