"""Results as downloads: the same GeoJSON, or a GeoPackage for QGIS."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
import shapely
from fastapi import Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel
from starlette.background import BackgroundTask

from geo.crs import WGS84_EPSG, parse_crs
from layers.registry import export_vector

__all__ = [
    "FORMAT_DOC",
    "CrsQ",
    "FormatQ",
    "download_crs",
    "export_response",
    "feature_collection_json",
    "geojson_bytes",
    "plain_geojson",
    "vector_response",
]

FormatQ = Annotated[
    Literal["geojson", "gpkg"],
    Query(description="geojson (default) or gpkg (a GeoPackage file, for QGIS and other GIS)"),
]

CrsQ = Annotated[
    str | None,
    Query(
        description="The CRS of a GeoPackage download: EPSG:4326 (default), EPSG:4490 (CGCS2000), EPSG:4548 "
        "(CGCS2000 / 3-degree Gauss-Kruger CM 117E) or EPSG:32650 (UTM 50N). GeoJSON stays WGS84 (RFC 7946).",
        max_length=80,
        examples=["EPSG:4548"],
    ),
]
GEOJSON_CRS_NOTE = (
    "GeoJSON is always WGS84 longitude/latitude (RFC 7946); EPSG:{crs} applies to format=gpkg "
    "(or the OGC API's crs parameter)."
)

FORMAT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/geo+json": {}, "application/geopackage+sqlite3": {}},
        "description": "GeoJSON (RFC 7946), or a GeoPackage with format=gpkg.",
    }
}


def _flat(value: object) -> object:
    """Return a value a GeoPackage column can hold (nested values as JSON text)."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


Features = Sequence[tuple[shapely.Geometry, Mapping[str, Any]]]


def feature_collection_json(features: Features, members: dict[str, Any] | None = None) -> str:
    """Return a FeatureCollection (RFC 7946) as JSON text, geometry written by GEOS (null when empty).

    The one GeoJSON writer of the API and the map pages; ``members`` are extra top-level
    members (attribution, summaries).
    """
    parts = [
        '{"type":"Feature","geometry":'
        + (shapely.to_geojson(g) if g is not None and not g.is_empty else "null")
        + ',"properties":'
        + json.dumps(props, ensure_ascii=False, default=str)
        + "}"
        for g, props in features
    ]
    extra = json.dumps(members, ensure_ascii=False)[1:-1] if members else ""
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]" + ("," + extra if extra else "") + "}"


def geojson_bytes(features: Features, members: dict[str, Any]) -> bytes:
    """Return `feature_collection_json` as UTF-8 bytes."""
    return feature_collection_json(features, members).encode()


def vector_response(
    features: Features,
    members: BaseModel | dict[str, Any],
    *,
    fmt: str,
    layer: str,
    attribution: str,
    crs: int | None = None,
) -> Response:
    """Return features (WGS84 geometry, properties) as GeoJSON, or as a GeoPackage file.

    ``members`` are the collection's other members (summaries, attribution); in a
    GeoPackage they go into the layer's description. ``crs`` (an EPSG code of
    `geo.crs.OFFERED_EPSG`) is the GeoPackage's CRS; GeoJSON stays WGS84 (RFC 7946)
    and says so in its ``crs_note`` member when another was asked for.
    """
    extra = members.model_dump(mode="json") if isinstance(members, BaseModel) else members
    extra = {k: v for k, v in extra.items() if k not in ("type", "features")}
    if fmt == "geojson":
        if _other_crs(crs):
            extra = {**extra, "crs_note": GEOJSON_CRS_NOTE.format(crs=crs)}
        return Response(geojson_bytes(features, extra), media_type="application/geo+json")
    gdf = gpd.GeoDataFrame(
        [{k: _flat(v) for k, v in props.items()} for _, props in features],
        geometry=[g for g, _ in features],
        crs="EPSG:4326",
    )
    if _other_crs(crs):
        gdf = gdf.to_crs(crs)
    summary = json.dumps(extra, ensure_ascii=False)
    return export_response(
        gdf, name=layer, fmt="gpkg", attribution=f"{attribution} | {summary[:4000]}" if extra else attribution
    )


_MEDIA = {"gpkg": "application/geopackage+sqlite3", "geojson": "application/geo+json"}


def export_response(gdf: gpd.GeoDataFrame, *, name: str, fmt: str, attribution: str) -> FileResponse:
    """Return a frame written as a GeoJSON or GeoPackage download (through a temporary file, removed after sending)."""
    tmpdir = tempfile.mkdtemp(prefix="venue-planner-export-")
    out = Path(tmpdir) / f"{name}.{fmt}"
    try:
        export_vector(gdf, out, fmt=fmt, layer=name, attribution=attribution)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise

    def cleanup() -> None:
        shutil.rmtree(tmpdir, ignore_errors=True)

    return FileResponse(out, media_type=_MEDIA[fmt], filename=out.name, background=BackgroundTask(cleanup))


def plain_geojson(fmt: str, crs: int | None) -> bool:
    """Return whether an answer goes out as it is: GeoJSON with no other CRS asked for (no note to add).

    Parameters
    ----------
    fmt
        ``geojson`` or ``gpkg``.
    crs
        The EPSG code asked for, or None.
    """
    return fmt == "geojson" and not _other_crs(crs)


def _other_crs(crs: int | None) -> bool:
    return crs is not None and crs != WGS84_EPSG


def download_crs(raw: str | None) -> int | None:
    """Return the EPSG code of a download's ``crs`` parameter (None: WGS84); a 422 names the ones offered.

    Parameters
    ----------
    raw
        The parameter as given, or None.
    """
    return None if raw is None else parse_crs(raw, label="crs")
