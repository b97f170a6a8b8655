"""Isochrones, coverage, gaps, choosing sites and the travel-time surface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.compute import bounded
from api.context import CoverageDep, RoutingDep
from api.convert import endpoint, to_place
from api.downloads import FORMAT_DOC, CrsQ, FormatQ, download_crs, vector_response
from api.schemas import AnyModeT, Departure, Endpoint, ModeT, PlaceIn, RequestModel, WindowMin
from api.transit import MODELLED, PARKS
from geo.coverage import Choice
from geo.crs import UTM_EPSG
from geo.isochrones import DEFAULT_BANDS_MIN
from geo.limits import LIMITS
from layers.coverage import BandFigures
from layers.credits import OSM_CREDIT
from layers.rasters import warp_tif
from layers.transit import TransitQuery, Window

if TYPE_CHECKING:
    from layers.coverage import CoverageService

router = APIRouter(tags=["coverage"])

POPULATION_CREDIT = "Population: WorldPop (www.worldpop.org, CC BY 4.0), spread evenly within townships"
ATTRIBUTION = f"{OSM_CREDIT}; {POPULATION_CREDIT}"


class IsochroneRequest(RequestModel):
    """Bands of travel time around a place."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"origin": "temple-of-heaven", "mode": "drive", "bands_min": [5, 10, 15]}]}
    )

    origin: PlaceIn = Field(description="[lon, lat], {lon, lat}, {site}, 'lon,lat' or a site id/name")
    mode: AnyModeT = "drive"
    departure: Departure = "08:00"
    window_min: WindowMin = 60
    percentile: Literal[50, 90] = Field(
        50, description="mode=transit: the percentile of the window's runs the bands are drawn for"
    )
    bands_min: list[float] | None = Field(
        None,
        description=f"Travel times in minutes, each in (0, {LIMITS.max_minutes:g}]; at most {LIMITS.max_bands}. "
        f"Default {list(DEFAULT_BANDS_MIN)} (on the regional network, for the far sites: [15, 30, 60, 90]) "
        "unless bands_m is given",
    )
    bands_m: list[float] | None = Field(
        None,
        description=f"Distances along the network in metres, each in (0, {LIMITS.max_metres:g}]; at most {LIMITS.max_bands}; "
        "instead of bands_min",
    )
    reverse: bool = Field(False, description="Time to reach the origin instead of time from it")


class BandProperties(BaseModel):
    """What one band covers."""

    minutes: float | None = Field(description="The band's travel time (null for a distance band)")
    metres: float | None = Field(None, description="The band's distance along the network (distance bands only)")
    truncated: bool = Field(
        description="The band reaches the edge of its network's data: it would go farther, and its people, "
        "stations and entrances are lower bounds"
    )
    coarse: bool = Field(
        False, description="Computed on the regional skeleton (major roads only, 100 m cells): approximate figures"
    )
    area_km2: float
    population: float = Field(
        description="People inside the band (100 m population raster); a lower bound if truncated"
    )
    population_share: float = Field(description="Share of Beijing's population")
    stations: dict[str, list[str]] = Field(description="Subway stations inside, by line")
    station_count: int
    entrances: int = Field(description="Subway entrances inside")


class BandFeature(BaseModel):
    """A band as a GeoJSON Feature (MultiPolygon, WGS84)."""

    type: str = "Feature"
    geometry: dict[str, Any]
    properties: dict[str, Any]


class IsochroneResponse(BaseModel):
    """Nested bands, largest first (draw in this order so the smaller ones stay visible)."""

    type: str = "FeatureCollection"
    features: list[BandFeature]
    origin: Endpoint
    mode: str
    network: str
    reverse: bool
    departure_window: str | None = Field(None, description="mode=transit: the departure window, HH:MM-HH:MM")
    percentile: int | None = Field(None, description="mode=transit: the percentile of the runs the bands show")
    townships: list[dict[str, Any]] = Field(description="People of each township inside each band (non-zero only)")
    warnings: list[str] = Field(default_factory=list, description="What this answer cannot be trusted for")
    attribution: str = ATTRIBUTION


def band_properties(b: BandFigures) -> BandProperties:
    """Describe a band."""
    return BandProperties(
        minutes=None if b.metres is not None else b.minutes,
        metres=b.metres,
        truncated=b.truncated,
        coarse=b.coarse,
        area_km2=round(b.area_km2, 4),
        population=round(b.population, 1),
        population_share=round(b.population_share, 6),
        stations=b.stations,
        station_count=len({s for names in b.stations.values() for s in names}),
        entrances=b.entrances,
    )


def band_feature(b: BandFigures, **extra: str | None) -> tuple[shapely.Geometry, dict[str, Any]]:
    """Return a band as (geometry, properties)."""
    return b.polygon, {**extra, **band_properties(b).model_dump()}


@router.post("/isochrones", response_model=IsochroneResponse, responses=FORMAT_DOC, operation_id="post_isochrones")
@bounded()
def post_isochrones(
    req: IsochroneRequest,
    coverage: CoverageDep,
    routing: RoutingDep,
    format: FormatQ = "geojson",
    crs: CrsQ = None,
) -> Response:
    """Return nested travel-time bands that follow the road network, with people and stations in each."""
    query = TransitQuery(Window.parse(req.departure, req.window_min), req.percentile) if req.mode == "transit" else None
    iso = coverage.isochrone(
        to_place(req.origin),
        mode=req.mode,
        bands_min=req.bands_min,
        bands_m=req.bands_m,
        reverse=req.reverse,
        transit=query,
    )
    table = iso.townships
    cols = [c for c in table.columns if c.startswith("within_")]
    rows = table[table[cols].sum(axis=1) > 0]
    feats = [band_feature(b) for b in reversed(iso.bands)]
    body = IsochroneResponse(
        features=[],
        origin=endpoint(iso.place),
        mode=req.mode,
        network=iso.place.network.name,
        reverse=req.reverse,
        departure_window=query.window.label() if query else None,
        percentile=query.percentile if query else None,
        townships=[
            {
                "township_id": int(r["township_id"]),
                "district": r["district"],
                "township": r["township"],
                "population": int(r["population"]),
                **{c: round(float(r[c]), 1) for c in cols},
            }
            for r in rows.to_dict("records")
        ],
        warnings=band_warnings(iso.bands, iso.place.network.name)
        + routing.walk_warnings(iso.place.network, areas=[b.polygon for b in iso.bands])
        + coverage.coarse_warnings(iso.place.network)
        + ([MODELLED, PARKS] if query else [])
        + _walk_alone(coverage, req.origin, query),
    )
    return vector_response(feats, body, fmt=format, layer="isochrones", attribution=ATTRIBUTION, crs=download_crs(crs))


def _walk_alone(coverage: CoverageService, origin: PlaceIn, query: TransitQuery | None) -> list[str]:
    """Return the note of transit bands that are walking alone (no station within the walk), if they are."""
    if query is None or coverage.transit is None:
        return []
    note = coverage.transit.walk_alone_note(to_place(origin))
    return [note] if note else []


def band_warnings(bands: list[BandFigures], network: str) -> list[str]:
    """Return a warning for the bands cut by the edge of the network's data."""
    cut = [b for b in bands if b.truncated]
    if not cut:
        return []
    names = ", ".join(f"{b.metres:g} m" if b.metres is not None else f"{b.minutes:g} min" for b in cut)
    return [
        f"band(s) {names} reach the edge of network {network!r}: they would go farther, so their area, people, "
        "stations and entrances are lower bounds (marked truncated). Import an extract that covers more to see all."
    ]


class CoverageRequest(RequestModel):
    """A set of sites and a travel time."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"sites": ["temple-of-heaven", "summer-palace"], "minutes": 15}]}
    )

    sites: list[PlaceIn] = Field(description=f"Sites or points (at most {LIMITS.max_sites})")
    mode: AnyModeT = "drive"
    minutes: float = Field(15.0, description=f"Travel time, in (0, {LIMITS.max_minutes:g}]")
    departure: Departure = "08:00"
    window_min: WindowMin = 60
    percentile: Literal[50, 90] = Field(
        50, description="mode=transit: the percentile of the window's runs a place must be reached within"
    )

    def transit_query(self) -> TransitQuery | None:
        """Return the transit options (None unless mode is transit)."""
        if self.mode != "transit":
            return None
        return TransitQuery(Window.parse(self.departure, self.window_min), self.percentile)


class TownshipRow(BaseModel):
    """A township's coverage."""

    township_id: int
    district: str
    township: str
    population: int
    covered: float
    uncovered: float
    covered_share: float
    assessed: bool = Field(description="False when the township lies mostly outside the network: not assessed")
    status: str = Field(description="covered, partial, gap, or not_assessed")


class CoverageResponse(BaseModel):
    """Each site's band, their union and overlap (features), and the townships' figures."""

    type: str = "FeatureCollection"
    features: list[BandFeature]
    minutes: float
    mode: str
    network: str
    sites: list[Endpoint]
    townships: list[TownshipRow]
    warnings: list[str] = Field(default_factory=list, description="What this answer cannot be trusted for")
    departure_window: str | None = Field(None, description="mode=transit: the departure window, HH:MM-HH:MM")
    percentile: int | None = Field(None, description="mode=transit: the percentile of the runs")
    attribution: str = ATTRIBUTION


def _status(covered_share: float, assessed: bool, min_share: float) -> str:
    if not assessed:
        return "not_assessed"
    if covered_share >= 0.95:
        return "covered"
    return "partial" if covered_share >= min_share else "gap"


def _coverage(
    coverage: CoverageService, req: CoverageRequest, *, min_share: float = 0.5, polygons: bool = True
) -> tuple[CoverageResponse, list[tuple[shapely.Geometry, dict[str, Any]]]]:
    query = req.transit_query()
    sc = coverage.site_set([to_place(p) for p in req.sites], mode=req.mode, minutes=req.minutes, transit=query)
    feats = [band_feature(b, role="site", site=endpoint(p).input) for p, b in zip(sc.places, sc.per_site, strict=True)]
    feats.append(band_feature(sc.union, role="union", site=None))
    feats.append(band_feature(sc.overlap, role="overlap", site=None))
    rows = [
        TownshipRow(
            township_id=int(r["township_id"]),
            district=r["district"],
            township=r["township"],
            population=int(r["population"]),
            covered=round(float(r["covered"]), 1),
            uncovered=round(float(r["uncovered"]), 1),
            covered_share=round(float(r["covered_share"]), 4),
            assessed=bool(r["assessed"]),
            status=_status(float(r["covered_share"]), bool(r["assessed"]), min_share),
        )
        for r in sc.townships.to_dict("records")
    ]
    body = CoverageResponse(
        features=[],
        minutes=sc.minutes,
        mode=req.mode,
        network=sc.network.name,
        sites=[endpoint(p) for p in sc.places],
        townships=rows,
        warnings=band_warnings([sc.union], sc.network.name)
        + coverage.coarse_warnings(sc.network)
        + ([MODELLED, PARKS] if query else []),
        departure_window=query.window.label() if query else None,
        percentile=query.percentile if query else None,
    )
    return body, feats


@router.post("/coverage", response_model=CoverageResponse, responses=FORMAT_DOC, operation_id="post_coverage")
@bounded()
def post_coverage(
    req: CoverageRequest, coverage: CoverageDep, format: FormatQ = "geojson", crs: CrsQ = None
) -> Response:
    """Return what a set of sites covers within a travel time: per site, together, and twice."""
    epsg = download_crs(crs)
    body, feats = _coverage(coverage, req)
    return vector_response(feats, body, fmt=format, layer="coverage", attribution=ATTRIBUTION, crs=epsg)


class GapsRequest(CoverageRequest):
    """Coverage gaps of a set of sites."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"sites": ["central-axis", "lugou-wanping"], "minutes": 15, "min_share": 0.5}]}
    )

    min_share: float = Field(0.5, ge=0, le=1, description="A township is a gap below this covered share")


class GapsSummary(BaseModel):
    """Totals over the townships the network covers."""

    assessed_townships: int
    gap_townships: int
    partial_townships: int
    assessed_population: float
    uncovered_population: float = Field(description="People in assessed townships with no site within the time")
    not_assessed_population: float = Field(description="People in townships outside the network (unknown)")


class GapsResponse(BaseModel):
    """Townships (features, simplified outlines) with their coverage status, and totals."""

    type: str = "FeatureCollection"
    features: list[BandFeature]
    summary: GapsSummary
    minutes: float
    mode: str
    network: str
    sites: list[Endpoint]
    attribution: str = ATTRIBUTION


@router.post("/coverage/gaps", response_model=GapsResponse, responses=FORMAT_DOC, operation_id="post_coverage_gaps")
@bounded()
def post_gaps(req: GapsRequest, coverage: CoverageDep, format: FormatQ = "geojson", crs: CrsQ = None) -> Response:
    """Return the townships with no site within the time (gaps), partial and covered ones."""
    epsg = download_crs(crs)
    body, _ = _coverage(coverage, req, min_share=req.min_share, polygons=False)
    outlines = coverage.township_outlines()
    feats = [(outlines[r.township_id], r.model_dump()) for r in body.townships if r.assessed]
    assessed = [r for r in body.townships if r.assessed]
    summary = GapsSummary(
        assessed_townships=len(assessed),
        gap_townships=sum(r.status == "gap" for r in assessed),
        partial_townships=sum(r.status == "partial" for r in assessed),
        assessed_population=float(sum(r.population for r in assessed)),
        uncovered_population=round(sum(r.uncovered for r in assessed), 1),
        not_assessed_population=float(sum(r.population for r in body.townships if not r.assessed)),
    )
    out = GapsResponse(
        features=[], summary=summary, minutes=body.minutes, mode=body.mode, network=body.network, sites=body.sites
    )
    return vector_response(feats, out, fmt=format, layer="coverage-gaps", attribution=ATTRIBUTION, crs=epsg)


class ChooseRequest(RequestModel):
    """Candidate sites to choose from."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"candidates": ["temple-of-heaven", "summer-palace", "lugou-bridge"], "minutes": 15, "k": 2}]
        }
    )

    candidates: list[PlaceIn] = Field(description=f"2 to {LIMITS.max_candidates} sites or points")
    mode: ModeT = "drive"
    minutes: float = Field(15.0, description=f"Travel time, in (0, {LIMITS.max_minutes:g}]")
    k: int = Field(1, ge=1, description="How many sites the maximal-covering choice may open")


class Chosen(BaseModel):
    """A choice of sites."""

    sites: list[Endpoint]
    covered_population: float
    covered_share_of_coverable: float


class ChooseResponse(BaseModel):
    """The best k sites for people covered, and the fewest sites that cover everyone coverable."""

    minutes: float
    mode: str
    network: str
    coverable_population: float = Field(description="People that at least one candidate covers")
    demand_units: int = Field(description="Groups of 25 m cells covered by the same candidates")
    max_cover: Chosen = Field(description="Maximal covering (spopt MCLP, CBC solver)")
    min_sites: Chosen = Field(description="Set covering (spopt LSCP, CBC solver)")
    attribution: str = ATTRIBUTION


@router.post("/coverage/choose-sites", response_model=ChooseResponse, operation_id="post_choose_sites")
@bounded()
def post_choose(req: ChooseRequest, coverage: CoverageDep) -> ChooseResponse:
    """Choose sites: the k that cover the most people, and the fewest that cover everyone reachable."""
    places, units, best_k, fewest = coverage.choose(
        [to_place(p) for p in req.candidates], mode=req.mode, minutes=req.minutes, k=req.k
    )
    total = float(units.people.sum())

    def chosen(c: Choice) -> Chosen:
        return Chosen(
            sites=[endpoint(places[i]) for i in c.chosen],
            covered_population=round(c.covered, 1),
            covered_share_of_coverable=round(c.covered / total, 6) if total else 0.0,
        )

    return ChooseResponse(
        minutes=req.minutes,
        mode=req.mode,
        network=places[0].network.name,
        coverable_population=round(total, 1),
        demand_units=len(units.people),
        max_cover=chosen(best_k),
        min_sites=chosen(fewest),
    )


@router.get(
    "/coverage/surface.tif",
    response_class=Response,
    responses={
        200: {
            "content": {"image/tiff": {}},
            "description": "GeoTIFF, float32 minutes, 100 m cells (UTM 50N unless crs)",
        }
    },
    operation_id="get_coverage_surface",
)
@bounded()
def get_surface(
    coverage: CoverageDep,
    sites: Annotated[
        list[str],
        Query(description="Site ids or 'lon,lat' (repeatable)", min_length=1, max_length=20, examples=[["jingshan"]]),
    ],
    mode: ModeT = "drive",
    limit_min: Annotated[
        float, Query(gt=0, le=LIMITS.max_minutes, description="Cells farther than this are nodata")
    ] = 180.0,
    crs: CrsQ = None,
) -> Response:
    """Return a GeoTIFF of minutes to the nearest of the sites per 100 m cell (nodata off the network).

    ``crs``: the GeoTIFF's CRS (UTM 50N as computed, or warped by nearest neighbour to another).
    """
    epsg = download_crs(crs)
    body = coverage.surface_tif([to_place(s) for s in sites], mode=mode, limit_min=limit_min)
    if epsg is not None and epsg != UTM_EPSG:
        body = warp_tif(body, epsg)
    return Response(
        body,
        media_type="image/tiff",
        headers={"Content-Disposition": 'attachment; filename="travel-time-surface.tif"'},
    )
