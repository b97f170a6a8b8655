"""The offline basemap: `/basemap/{z}/{x}/{y}.mvt` (what the pages draw), the archive and its TileJSON."""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from api.context import SettingsDep
from layers.basemap import BASEMAP_FILE, BasemapArchive, basemap_archive
from layers.credits import OSM_CREDIT

router = APIRouter(tags=["basemap"])

MVT = "application/vnd.mapbox-vector-tile"
CACHE = "public, max-age=86400"  # the archive changes only with the seeds (a new release)
ZoomP = Annotated[int, Path(ge=0, le=24, description="Zoom")]
ColP = Annotated[int, Path(ge=0, le=(1 << 24) - 1, description="Column (x), from the west")]
RowP = Annotated[int, Path(ge=0, le=(1 << 24) - 1, description="Row (y), from the north")]


def _archive(settings: SettingsDep) -> BasemapArchive:
    return basemap_archive(settings.seeds_dir / BASEMAP_FILE)


@router.get(
    "/basemap/{z}/{x}/{y}.mvt",
    operation_id="basemap_tile",
    response_class=Response,
    responses={200: {"content": {MVT: {}}, "description": "A Mapbox Vector Tile"}, 204: {"description": "No data"}},
)
async def basemap_tile(z: ZoomP, x: ColP, y: RowP, request: Request, settings: SettingsDep) -> Response:
    """Return one vector tile of the offline basemap (gzip-encoded when the client takes it).

    Layers: `roads` (`kind`: the OSM class, `name`), `skeleton`, `boundaries` (`district`),
    `places` (township `name`, `district`), `subway` (`name`, `colour`), `stations`, `sites`,
    `site_labels` (`name`, `name_en`), `buildings`. 204 for a tile with no data inside the
    basemap's bounds; 404 outside its zooms or bounds.
    """
    data = _archive(settings).tile(z, x, y)
    if data is None:
        return Response(status_code=204, headers={"cache-control": CACHE})
    headers = {"cache-control": CACHE, "vary": "accept-encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(data, media_type=MVT, headers={**headers, "content-encoding": "gzip"})
    return Response(gzip.decompress(data), media_type=MVT, headers=headers)


@router.get("/basemap.pmtiles", operation_id="basemap_archive", response_class=FileResponse)
def basemap_file(settings: SettingsDep) -> FileResponse:
    """Return the whole basemap archive (PMTiles v3); clients read it with HTTP range requests."""
    a = _archive(settings)
    return FileResponse(a.path, media_type="application/vnd.pmtiles", headers={"cache-control": CACHE})


@router.get("/basemap.json", operation_id="basemap_tilejson")
def basemap_tilejson(request: Request, settings: SettingsDep) -> JSONResponse:
    """Return the basemap's TileJSON 3.0 (for QGIS's vector tile connections and other clients)."""
    a = _archive(settings)
    url = str(request.url_for("basemap_tile", z="0", x="0", y="0")).replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
    return JSONResponse(
        {
            "tilejson": "3.0.0",
            "name": a.info.metadata.get("name", "basemap"),
            "description": a.info.metadata.get("description", ""),
            "attribution": OSM_CREDIT,
            "tiles": [url],
            "minzoom": a.info.min_zoom,
            "maxzoom": a.info.max_zoom,
            "bounds": list(a.info.bounds),
            "vector_layers": a.info.metadata.get("vector_layers", []),
        }
    )
