"""The OpenAPI document, made self-contained.

geojson-pydantic's generic models carry their own ``$defs`` (``Feature``, ``Polygon``,
``Position2D``, ...) and refer to them as ``#/$defs/...``, which resolves nowhere in an
OpenAPI document: here every nested ``$defs`` is hoisted into ``components/schemas`` and
every reference rewritten to point there.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install_openapi", "self_contained"]


def _fix(ref: str) -> str:
    return "#/components/schemas/" + ref.removeprefix("#/$defs/") if ref.startswith("#/$defs/") else ref


def _hoist(node: Any, found: dict[str, Any]) -> Any:  # noqa: ANN401 - any JSON
    if isinstance(node, dict):
        defs = node.pop("$defs", None)
        if isinstance(defs, dict):
            for name, schema in defs.items():
                found.setdefault(name, schema)
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/"):
                out[k] = _fix(v)
            elif k == "mapping" and isinstance(v, dict):  # a discriminator's references
                out[k] = {name: _fix(ref) if isinstance(ref, str) else ref for name, ref in v.items()}
            else:
                out[k] = _hoist(v, found)
        return out
    if isinstance(node, list):
        return [_hoist(v, found) for v in node]
    return node


def self_contained(doc: dict[str, Any]) -> dict[str, Any]:
    """Return ``doc`` with nested ``$defs`` moved into ``components/schemas`` and references fixed."""
    found: dict[str, Any] = {}
    out: dict[str, Any] = _hoist(doc, found)
    schemas = out.setdefault("components", {}).setdefault("schemas", {})
    while found:  # hoisted schemas may hold $defs of their own
        more: dict[str, Any] = {}
        for name, schema in found.items():
            if name not in schemas:
                schemas[name] = _hoist(schema, more)
        found = {k: v for k, v in more.items() if k not in schemas}
    return out


def _errors_as_json(doc: dict[str, Any]) -> dict[str, Any]:
    """Declare every error answer as ``application/json`` (routes that answer GeoJSON, GeoTIFF or HTML too)."""
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            if not isinstance(op, dict):
                continue
            for status, resp in op.get("responses", {}).items():
                content = resp.get("content") if isinstance(resp, dict) else None
                if status[:1] in ("4", "5") and isinstance(content, dict) and content:
                    schema = next(iter(content.values())).get("schema", {})
                    resp["content"] = {"application/json": {"schema": schema}}
    return doc


def install_openapi(app: FastAPI) -> None:
    """Serve the self-contained document at ``/openapi.json`` (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _errors_as_json(self_contained(doc))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
