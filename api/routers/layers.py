"""Layers: the registry and each layer's data."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response

from api.context import LayersDep
from api.convert import parse_bbox
from api.downloads import GEOJSON_CRS_NOTE, CrsQ, download_crs, export_response
from api.schemas import LayerInfo
from geo.crs import WGS84_EPSG, crs_label
from layers.rasters import warp_tif
from layers.registry import export_vector

router = APIRouter(prefix="/layers", tags=["layers"])

# A FeatureCollection (RFC 7946), written out plainly: geojson-pydantic's own schema of
# bbox (prefixItems) trips some OpenAPI tools when inlined in a response.
_FEATURE_COLLECTION: dict[str, Any] = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": {"type": "object"}},
        "attribution": {"type": "string"},
    },
}
_GEOJSON_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/geo+json": {"schema": _FEATURE_COLLECTION},
            "image/tiff": {},
            "application/geopackage+sqlite3": {},
        },
        "description": "GeoJSON (vector layers), GeoTIFF (rasters) or GeoPackage (format=gpkg).",
    }
}


@router.get("", response_model=list[LayerInfo], operation_id="list_layers")
def list_layers(layers: LayersDep) -> list[LayerInfo]:
    """List every layer with its geometry type, CRS, attribution and default style."""
    return [LayerInfo(**s.as_dict(), href=f"/layers/{s.id}") for s in layers.specs()]


@router.get("/{layer_id}", response_model=None, responses=_GEOJSON_DOC, operation_id="get_layer")
def get_layer(
    layer_id: Annotated[str, PathParam(description="A layer id (see /layers)", max_length=100, examples=["sites"])],
    layers: LayersDep,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS84)")] = None,
    format: Annotated[
        str, Query(description="geojson or gpkg (vector layers)", pattern="^(geojson|gpkg)$")
    ] = "geojson",
    crs: CrsQ = None,
) -> Response:
    """Return a layer: vector layers as GeoJSON (bbox filter), rasters as GeoTIFF.

    ``crs``: the CRS of a GeoPackage or GeoTIFF (a raster is warped by nearest neighbour from
    its stored CRS); GeoJSON stays WGS84 (RFC 7946).
    """
    spec = layers.spec(layer_id)
    epsg = download_crs(crs)
    if spec.kind == "raster":
        if epsg is not None and f"EPSG:{epsg}" != spec.crs:
            name = spec.file.removesuffix(".tif") + f"-epsg{epsg}.tif"
            return Response(
                warp_tif(layers.path(layer_id).read_bytes(), epsg),
                media_type="image/tiff",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return FileResponse(layers.path(layer_id), media_type="image/tiff", filename=spec.file)
    gdf = layers.query(layer_id, bbox=parse_bbox(bbox))
    if format == "gpkg":
        if epsg is not None:
            gdf = gdf.to_crs(epsg)
        return export_response(gdf, name=layer_id, fmt="gpkg", attribution=spec.attribution)
    with tempfile.TemporaryDirectory(prefix="venue-planner-export-") as tmp:
        out = Path(tmp) / f"{layer_id}.geojson"
        export_vector(gdf, out, fmt="geojson", layer=layer_id, attribution=spec.attribution)
        headers = {"Content-Crs": f"<{crs_label(None, uri=True)}>"}
        if epsg is not None and epsg != WGS84_EPSG:
            headers["X-Crs-Note"] = GEOJSON_CRS_NOTE.format(crs=epsg)
        return Response(out.read_bytes(), media_type="application/geo+json", headers=headers)
