"""Public transport: the modelled subway lines (`mode=transit` itself is on /routes, /isochrones, ...)."""

from __future__ import annotations

from typing import Literal

import orjson
import shapely
from fastapi import APIRouter
from fastapi.responses import Response
from geojson_pydantic import Feature, FeatureCollection, LineString
from pydantic import BaseModel, Field

from api.compute import bounded
from api.context import TransitDep
from api.downloads import FORMAT_DOC, CrsQ, FormatQ, download_crs, plain_geojson, vector_response
from api.schemas import GeoJSONResponse
from api.transit import line_feature
from layers.credits import OSM_CREDIT
from layers.transit import MAX_WALK_MIN

router = APIRouter(tags=["transit"])


class LineProperties(BaseModel):
    """A modelled subway line: its stations in running order and the stations missing from the data."""

    id: str
    name: str
    colour: str
    shape: Literal["linear", "loop", "lasso"]
    line_class: str = Field(description="central (numbered lines) or suburban: sets the modelled headways")
    run_minutes: float = Field(description="Modelled time from the first to the last station (round, for a loop)")
    stations: list[str]
    missing: list[dict[str, str]] = Field(description="Station codes with no station in the data, and where")


class LineCollection(FeatureCollection[Feature[LineString, LineProperties]]):
    """The subway lines of the modelled feed, drawn through their stations."""

    about: str
    left_out_codes: dict[str, str]
    max_walk_min: float
    attribution: str = OSM_CREDIT


@router.get(
    "/transit/lines",
    response_model=LineCollection,
    response_class=GeoJSONResponse,
    responses=FORMAT_DOC,
    operation_id="get_transit_lines",
)
@bounded(media_type="application/geo+json")
def get_lines(transit: TransitDep, format: FormatQ = "geojson", crs: CrsQ = None) -> LineCollection | Response:
    """Return the subway lines with their stations, the stations missing from the data, and their colours."""
    epsg = download_crs(crs)
    doc = transit.lines
    feats = []
    for ln in doc["lines"]:
        pts = [[s["lon"], s["lat"]] for s in ln["stations"]]
        if ln["shape"] == "loop":
            pts.append(pts[0])
        props = {
            "id": ln["id"],
            "name": ln["name"],
            "colour": ln["colour"],
            "shape": ln["shape"],
            "line_class": ln["class"],
            "run_minutes": ln["run_minutes"],
            "stations": [s["name"] for s in ln["stations"]],
            "missing": ln["missing"],
        }
        feats.append(line_feature(pts, props))
    body = {
        "type": "FeatureCollection",
        "features": feats,
        "about": doc["about"],
        "left_out_codes": doc["left_out_codes"],
        "max_walk_min": MAX_WALK_MIN,
        "attribution": OSM_CREDIT,
    }
    shapes = [(shapely.geometry.shape(f["geometry"]), f["properties"]) for f in feats]
    if plain_geojson(format, epsg):
        return Response(orjson.dumps(body), media_type="application/geo+json")
    return vector_response(shapes, body, fmt=format, layer="subway_lines", attribution=OSM_CREDIT, crs=epsg)
