"""OGC API – Features, Part 1 (Core, GeoJSON), so QGIS can add any layer.

The API definition (``/openapi.json``) is OpenAPI 3.1, as FastAPI writes it, so the
"oas30" conformance class is not claimed.

Landing page at ``/ogc`` (and at ``/`` for JSON clients), and under it conformance,
collections, items with ``bbox``, ``limit``, ``offset`` and ``next``/``prev`` links, and
single features (``/ogc/collections/{id}/items/{fid}``), the paths GDAL's OGC API driver
and QGIS build from the landing page. The same resources answer at the older paths
without ``/ogc`` (not in the API definition). Coordinates are CRS84 (longitude, latitude) unless a
``crs`` is asked for: Part 2 (Coordinate Reference Systems by Reference) offers EPSG:4326,
EPSG:4490 (CGCS2000), EPSG:4548 (its 3-degree Gauss-Krüger zone, CM 117 E) and EPSG:32650,
written in each CRS's own axis order (latitude or northing first for 4326, 4490 and 4548),
with ``bbox-crs`` for a bbox in one of them and the ``Content-Crs`` header.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from api.context import ImpactDep, LayersDep, LimitsDep, ProposalsDep
from api.convert import parse_bbox
from api.errors import error_body
from geo.crs import BEIJING_BBOX, OFFERED_EPSG, crs_label, north_first, parse_crs, transform_geometries
from geo.errors import CRSError, InvalidInputError, NotFoundError
from layers.credits import OSM_CREDIT
from layers.registry import one_geometry_type

if TYPE_CHECKING:
    from layers.impact import ImpactService
    from layers.proposals import ProposalStore
    from layers.registry import LayerStore

CollectionId = Annotated[
    str, Path(description="A collection id (see /ogc/collections)", max_length=100, examples=["sites"])
]
FeatureId = Annotated[str, Path(description="A feature id", max_length=100, examples=["0"])]

router = APIRouter(tags=["ogc-api-features"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
# Part 2: every collection is offered in these (stored in CRS84).
OFFERED_CRS = [CRS84, *(crs_label(c, uri=True) for c in OFFERED_EPSG)]
DEFAULT_LIMIT = 10
PROPOSALS = "proposals"
FLOWS = "link-flows"  # the hourly car flow on each drive link of the central network (issue 25)


@dataclass(frozen=True)
class Stores:
    """What the collections beyond the layers come from: the saved proposals, the impact model's flows."""

    proposals: ProposalStore
    impact: ImpactService


async def _stores(proposals: ProposalsDep, impact: ImpactDep) -> Stores:
    return Stores(proposals, impact)


StoresDep = Annotated[Stores, Depends(_stores)]
_ITEM_PARAMS = {"bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "f"}
GEOJSON = "application/geo+json"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _bad(message: str) -> JSONResponse:
    """Return 400 Bad Request (what OGC API – Features asks for invalid or unknown parameters)."""
    return JSONResponse(error_body(400, "invalid_parameter", message), status_code=400)


def landing(request: Request) -> dict[str, Any]:
    """Return the landing page document."""
    b = _base(request)
    return {
        "title": "Beijing venue and heritage-site planner — OGC API Features",
        "description": "Sites, townships, subway, heritage buildings, road networks and saved proposals. "
        "Map data © OpenStreetMap contributors (ODbL); population WorldPop (CC BY 4.0).",
        "links": [
            {"href": f"{b}/ogc", "rel": "self", "type": "application/json", "title": "This document"},
            {"href": f"{b}/openapi.json", "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.1", "title": "The API definition"},
            {"href": f"{b}/docs", "rel": "service-doc", "type": "text/html", "title": "The API documentation"},
            {"href": f"{b}/ogc/conformance", "rel": "conformance", "type": "application/json", "title": "Conformance classes"},
            {"href": f"{b}/ogc/collections", "rel": "data", "type": "application/json", "title": "The collections"},
        ],
    }  # fmt: skip


@router.get("/ogc", operation_id="ogc_landing")
def get_landing(request: Request) -> dict[str, Any]:
    """Return the OGC API landing page (add this URL in QGIS as an "OGC API – Features" connection)."""
    return landing(request)


@router.get("/ogc/conformance", operation_id="ogc_conformance")
def get_conformance() -> dict[str, list[str]]:
    """Return the conformance classes the service implements."""
    return {"conformsTo": CONFORMANCE}


def _collection_ids(layers: LayerStore) -> list[str]:
    return [s.id for s in layers.specs() if s.kind != "raster"] + [PROPOSALS, FLOWS]


def _frame(
    layers: LayerStore, stores: Stores, cid: str, bbox: tuple[float, float, float, float] | None = None
) -> gpd.GeoDataFrame:
    if cid == FLOWS:
        from layers.atlas import link_flows
        from layers.eventimpact import TravelModel

        gdf = link_flows(stores.impact.event, stores.impact.network("drive"), TravelModel())
        return gdf if bbox is None else gdf.cx[bbox[0] : bbox[2], bbox[1] : bbox[3]]
    if cid == PROPOSALS:
        gdf = stores.proposals.frame().set_index("id", drop=False)
        if bbox is not None and not gdf.empty:
            gdf = gdf.cx[bbox[0] : bbox[2], bbox[1] : bbox[3]]
        return one_geometry_type(gdf)
    return one_geometry_type(layers.query(cid, bbox=bbox), layers.geometry_types(cid))


def _collection(layers: LayerStore, stores: Stores, cid: str, b: str) -> dict[str, Any]:
    if cid == FLOWS:
        title, description, attribution = (
            "Car flow on each road link, by hour",
            "The car trips of the event-impact model (the manual: Event closures) assigned all-or-nothing to the "
            "fastest routes of the central drive network: cars_h00 ... cars_h23 per hour, cars_per_day",
            f"{OSM_CREDIT}; population WorldPop (CC BY 4.0); trips and shares: the manual, Event closures",
        )
        bounds = list(BEIJING_BBOX)
    elif cid == PROPOSALS:
        title, description, attribution = (
            "Saved proposals",
            "Renovation proposals, latest versions",
            "venue planner users",
        )
        gdf = _frame(layers, stores, cid)
        bounds = [float(v) for v in gdf.total_bounds] if not gdf.empty else list(BEIJING_BBOX)
    else:
        spec = layers.spec(cid)
        title, description, attribution = spec.title, spec.description, spec.attribution
        bounds = [float(v) for v in layers.query(cid, bbox=None).total_bounds]
    return {
        "id": cid,
        "title": title,
        "description": f"{description} Source: {attribution}",
        "attribution": attribution,
        "itemType": "feature",
        "crs": OFFERED_CRS,
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [bounds], "crs": CRS84}},
        "links": [
            {"href": f"{b}/ogc/collections/{cid}", "rel": "self", "type": "application/json", "title": title},
            {"href": f"{b}/ogc/collections/{cid}/items", "rel": "items", "type": GEOJSON, "title": f"{title} (features)"},
            {"href": f"{b}/ogc/collections/{cid}/items?f=gpkg", "rel": "enclosure", "type": "application/geopackage+sqlite3", "title": "Download as GeoPackage"},
        ],
    }  # fmt: skip


@router.get("/ogc/collections", operation_id="ogc_collections")
def get_collections(request: Request, layers: LayersDep, stores: StoresDep) -> dict[str, Any]:
    """Return every vector layer, the saved proposals and the hourly link flows as collections."""
    b = _base(request)
    return {
        "links": [{"href": f"{b}/ogc/collections", "rel": "self", "type": "application/json", "title": "Collections"}],
        "collections": [_collection(layers, stores, cid, b) for cid in _collection_ids(layers)],
    }


def _check_collection(layers: LayerStore, cid: str) -> None:
    if cid not in _collection_ids(layers):
        raise NotFoundError(f"no collection {cid!r}; known: {', '.join(_collection_ids(layers))}.")


@router.get("/ogc/collections/{cid}", operation_id="ogc_collection")
def get_collection(cid: CollectionId, request: Request, layers: LayersDep, stores: StoresDep) -> dict[str, Any]:
    """Return one collection."""
    _check_collection(layers, cid)
    return _collection(layers, stores, cid, _base(request))


def _features(gdf: gpd.GeoDataFrame, crs: int | None = None) -> list[dict[str, Any]]:
    """Return the features as GeoJSON dicts, in ``crs`` (an EPSG code; None: CRS84) in its own axis order."""
    if gdf.empty:
        return []
    if crs is not None:
        gdf = gdf.set_geometry(
            transform_geometries(gdf.geometry.to_numpy(), source=None, target=crs, axis_order=True), crs=None
        )
    doc: dict[str, Any] = json.loads(gdf.to_json(na="null", drop_id=False, show_bbox=False))
    return list(doc["features"])


def _crs_param(raw: str | None, name: str) -> int | str | None:
    """Return a ``crs`` value as an EPSG code (None: CRS84), or the error text."""
    if raw is None:
        return None
    try:
        return parse_crs(raw, label=name)
    except CRSError as exc:
        return str(exc)


def _where(q: Mapping[str, str]) -> tuple[int | None, tuple[float, float, float, float] | None, Any]:
    """Return an items query's output CRS, its CRS84 bbox and the area the bbox covers (None: the bbox itself)."""
    crs = parse_crs(q["crs"], label="crs") if "crs" in q else None
    bbox_crs = parse_crs(q["bbox-crs"], label="bbox-crs") if "bbox-crs" in q else None
    if "bbox-crs" in q and "bbox" not in q:
        raise InvalidInputError("`bbox-crs` names the CRS of `bbox`; give `bbox` too.")
    if "bbox" not in q:
        return crs, None, None
    bbox, area = _bbox_in(q["bbox"], bbox_crs)
    return crs, bbox, area


def _bbox_in(raw: str, crs: int | None) -> tuple[tuple[float, float, float, float], Any]:
    """Return a bbox given in ``crs`` (its own axis order) as a CRS84 bbox and the area it covers (None: the box)."""
    if crs is None:
        box84 = parse_bbox(raw)
        assert box84 is not None  # a given bbox parses to four numbers or is refused
        return box84, None
    parts = raw.split(",")
    try:
        nums = [float(v) for v in parts]
    except ValueError:
        raise InvalidInputError(f"`bbox` must be four numbers; got {raw[:80]!r}.") from None
    if len(nums) != 4 or not all(np.isfinite(nums)):
        raise InvalidInputError(f"`bbox` must be four finite numbers; got {raw[:80]!r}.")
    a1, a2, a3, a4 = nums
    minx, miny, maxx, maxy = (a2, a1, a4, a3) if north_first(crs) else (a1, a2, a3, a4)
    if minx > maxx or miny > maxy:
        raise InvalidInputError(f"`bbox` must be lower corner then upper corner in {crs_label(crs)}'s axis order.")
    box = shapely.segmentize(shapely.box(minx, miny, maxx, maxy), max(maxx - minx, maxy - miny) / 64 or 1.0)
    area = transform_geometries(np.array([box], dtype=object), source=crs, target=None)[0]
    x0, y0, x1, y1 = (float(v) for v in area.bounds)
    return (x0, y0, x1, y1), area


def _int_param(raw: str | None, name: str, default: int, lo: int, hi: int) -> int | str:
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        return f"`{name}` must be an integer; got {raw!r}."
    if not lo <= v <= hi:
        return f"`{name}` must be between {lo} and {hi}; got {v}."
    return v


@router.get(
    "/ogc/collections/{cid}/items",
    operation_id="ogc_items",
    responses={200: {"content": {GEOJSON: {}, "application/geopackage+sqlite3": {}}}},
)
def get_items(cid: CollectionId, request: Request, layers: LayersDep, stores: StoresDep, limits: LimitsDep) -> Response:
    """Return features of a collection: bbox (CRS84, or ``bbox-crs``), limit (1-10000, default 10), offset, crs.

    ``datetime`` is accepted and ignored (no layer has a time dimension). ``f=gpkg``
    returns the selection (without paging) as a GeoPackage.
    """
    _check_collection(layers, cid)
    q = request.query_params
    unknown = sorted(set(q) - _ITEM_PARAMS)
    if unknown:
        return _bad(f"unknown query parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_ITEM_PARAMS))}.")
    try:
        crs, bbox, area = _where(q)
    except (InvalidInputError, CRSError) as exc:
        return _bad(str(exc))
    limit = _int_param(q.get("limit"), "limit", DEFAULT_LIMIT, 1, limits.max_ogc_items)
    offset = _int_param(q.get("offset"), "offset", 0, 0, 10**9)
    if isinstance(limit, str):
        return _bad(limit)
    if isinstance(offset, str):
        return _bad(offset)
    gdf = _frame(layers, stores, cid, bbox)
    if area is not None and not gdf.empty:
        gdf = gdf[shapely.intersects(gdf.geometry.to_numpy(), area)]
    if q.get("f") == "gpkg":
        from api.downloads import vector_response

        feats = [(g, props["properties"]) for g, props in zip(gdf.geometry, _features(gdf), strict=True)]
        attribution = (
            "venue planner users" if cid == PROPOSALS else OSM_CREDIT if cid == FLOWS else layers.spec(cid).attribution
        )
        return vector_response(feats, {}, fmt="gpkg", layer=cid, attribution=attribution, crs=crs)
    page = gdf.iloc[offset : offset + limit]
    b = _base(request)

    def link(rel: str, off: int) -> dict[str, str]:
        params = {k: v for k, v in q.items() if k not in ("offset", "limit")}
        params.update({"limit": str(limit), "offset": str(off)})
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return {"href": f"{b}/ogc/collections/{cid}/items?{query}", "rel": rel, "type": GEOJSON, "title": rel}

    links = [link("self", offset)]
    if offset + limit < len(gdf):
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(offset - limit, 0)))
    links.append({"href": f"{b}/ogc/collections/{cid}", "rel": "collection", "type": "application/json", "title": cid})
    body = {
        "type": "FeatureCollection",
        "features": _features(page, crs),
        "links": links,
        "numberMatched": len(gdf),
        "numberReturned": len(page),
        "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type=GEOJSON, headers=_content_crs(crs))


def _content_crs(crs: int | None) -> dict[str, str]:
    return {"Content-Crs": f"<{crs_label(crs, uri=True)}>"}


@router.get(
    "/ogc/collections/{cid}/items/{fid}",
    operation_id="ogc_item",
    responses={200: {"content": {GEOJSON: {}}, "description": "One feature (GeoJSON)"}},
)
def get_item(cid: CollectionId, fid: FeatureId, request: Request, layers: LayersDep, stores: StoresDep) -> Response:
    """Return one feature by id (``crs``: one of the collection's CRSs, as for items)."""
    _check_collection(layers, cid)
    unknown = sorted(set(request.query_params) - {"crs", "f"})
    if unknown:
        return _bad(f"unknown query parameter(s) {', '.join(unknown)}; allowed: crs, f.")
    crs = _crs_param(request.query_params.get("crs"), "crs")
    if isinstance(crs, str):
        return _bad(crs)
    gdf = _frame(layers, stores, cid)
    key: Any = fid
    if cid != PROPOSALS:
        try:
            key = int(fid)
        except ValueError:
            raise NotFoundError(f"no feature {fid!r} in {cid!r} (ids are integers).") from None
    if key not in gdf.index:
        raise NotFoundError(f"no feature {fid!r} in {cid!r}.")
    feat = _features(gdf.loc[[key]], crs)[0]
    b = _base(request)
    feat["links"] = [
        {"href": f"{b}/ogc/collections/{cid}/items/{fid}", "rel": "self", "type": GEOJSON, "title": "This feature"},
        {"href": f"{b}/ogc/collections/{cid}", "rel": "collection", "type": "application/json", "title": cid},
    ]
    return Response(json.dumps(feat, ensure_ascii=False), media_type=GEOJSON, headers=_content_crs(crs))


# The older paths (before everything moved under /ogc), kept for existing connections.
for _route in list(router.routes):
    if isinstance(_route, APIRoute) and _route.path.startswith("/ogc/"):
        router.add_api_route(
            _route.path.removeprefix("/ogc"),
            _route.endpoint,
            methods=["GET"],
            include_in_schema=False,
            name=f"legacy_{_route.name}",
        )
