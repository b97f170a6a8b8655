"""seeds/heritage_buildings.geojson: the Forbidden City building footprints."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from geo.crs import UTM_EPSG
from geo.errors import DataSourceError
from layers.seedbuild.common import (
    ODBL,
    SeedReport,
    bbox,
    valid_polygons,
    write_geojson,
)


def build_heritage(folder: Path, out_dir: Path, report: SeedReport) -> gpd.GeoDataFrame:
    """Write the Forbidden City building footprints without the synthetic heights.

    Parameters
    ----------
    folder
        The raw data folder of this item.
    out_dir
        The seeds folder to write to.
    report
        The seed build's report, where the file's provenance is recorded.
    """
    src = folder / "forbidden_city_buildings_osm.geojson"
    if not src.is_file():
        raise DataSourceError(f"{src} is missing.")
    gdf = gpd.read_file(src, engine="pyogrio")
    keep = [c for c in ("osm_id", "name", "fclass", "type") if c in gdf.columns]
    gdf = gdf[[*keep, "geometry"]].copy()
    gdf["name"] = gdf["name"].fillna("")
    gdf["geometry"] = valid_polygons(gdf.geometry)
    # An outline drawn as a closed line of zero area (a wall) has no polygon left once repaired.
    empty = gdf.geometry.is_empty.to_numpy()
    dropped = sorted(str(v) for v in gdf.loc[empty, "osm_id"])
    gdf = gdf[~empty].copy()
    gdf["area_m2"] = gdf.to_crs(UTM_EPSG).geometry.area.round(1)
    gdf = gdf.sort_values("osm_id", kind="stable").reset_index(drop=True)
    write_geojson(gdf, out_dir / "heritage_buildings.geojson")
    report.files["heritage_buildings.geojson"] = {
        "title": "Forbidden City building footprints",
        "source": "lzuniujp08/learn-demo @e76e7a9a data/gugong.geojson (OSM, Geofabrik schema)",
        "licence": f"OpenStreetMap, {ODBL}",
        "date": "OSM snapshot 2020 or earlier",
        "crs": "EPSG:4326",
        "bbox": bbox(gdf),
        "features": len(gdf),
        "derivation": "the synthetic `height` attribute dropped; names kept; area_m2 computed in UTM 50N; "
        f"{len(dropped)} outline(s) of zero area dropped (OSM ids {', '.join(dropped) or 'none'}).",
    }
    return gdf
