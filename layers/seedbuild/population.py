"""seeds/townships.geojson and the 100 m population raster, from raw item 3."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.features
from rasterio.transform import Affine

from geo.coverage import zone_cells
from geo.crs import UTM_EPSG, WGS84_EPSG
from geo.errors import DataSourceError
from layers.seedbuild.common import (
    SeedReport,
    bbox,
    valid_polygons,
    write_geojson,
)

# The population raster's cell, metres: WorldPop's own 100 m grid (raw item's SOURCES.md); township
# totals are spread evenly over the cells (no finer data exists here).
POP_CELL_M = 100.0


def build_population(folder: Path, out_dir: Path, report: SeedReport) -> gpd.GeoDataFrame:
    """Write the township layer and the 100 m population raster spread from it.

    Parameters
    ----------
    folder
        The raw data folder of this item.
    out_dir
        The seeds folder to write to.
    report
        The seed build's report, where the file's provenance is recorded.
    """
    shp = folder / "beijing.shp"
    npy = folder / "worldpop.npy"
    if not shp.is_file() or not npy.is_file():
        raise DataSourceError(f"{shp} or {npy} is missing; expected the beijing_townships_worldpop folder.")
    towns = gpd.read_file(shp, engine="pyogrio")
    pop = np.load(npy)
    if pop.shape != (len(towns), 2):
        raise DataSourceError(f"{npy.name} has shape {pop.shape}; expected ({len(towns)}, 2), one row per township.")
    if towns.crs is None or towns.crs.to_epsg() != WGS84_EPSG:
        raise DataSourceError(f"{shp.name} is in {towns.crs}; expected WGS84.")
    towns = towns.rename(columns={"省": "province", "市": "city", "县": "district", "乡": "township"})
    towns = towns[["province", "city", "district", "township", "geometry"]].copy()
    towns.insert(0, "township_id", np.arange(len(towns), dtype=int))
    towns["population"] = pop[:, 0].astype(np.int64)
    towns["source_area_km2"] = pop[:, 1].astype(np.int64)
    towns["geometry"] = valid_polygons(towns.geometry)
    utm = towns.to_crs(UTM_EPSG)
    towns["area_km2"] = (utm.geometry.area / 1e6).round(3)
    path = out_dir / "townships.geojson"
    write_geojson(towns, path)
    report.files["townships.geojson"] = {
        "title": "Townships (街道/乡镇) with WorldPop population",
        "source": "tsinghua-fib-lab/mosstool @898b4096 data/gravitygenerator (Beijing-shp, worldpop.npy)",
        "licence": "mosstool MIT; population WorldPop CC BY 4.0, credit 'WorldPop (www.worldpop.org)'",
        "date": "boundaries about 2010-2014 (pre-2015 district names); population WorldPop",
        "crs": "EPSG:4326",
        "bbox": bbox(towns),
        "features": len(towns),
        "derivation": "331 polygons joined in order with worldpop.npy column 0 (population) and 1 "
        "(area km2, as source_area_km2); geometry repaired with make_valid; area_km2 computed in UTM 50N.",
    }
    # Raster: spread each township's total evenly over the 100 m cells whose centre it holds.
    minx, miny, maxx, maxy = utm.total_bounds
    x0 = np.floor(minx / POP_CELL_M) * POP_CELL_M
    y1 = np.ceil(maxy / POP_CELL_M) * POP_CELL_M
    width = int(np.ceil((maxx - x0) / POP_CELL_M))
    height = int(np.ceil((y1 - miny) / POP_CELL_M))
    transform = Affine(POP_CELL_M, 0.0, x0, 0.0, -POP_CELL_M, y1)
    cells = zone_cells(list(utm.geometry), towns["population"].to_numpy(dtype=float), transform, (height, width))
    density = cells.raster((height, width))
    small = cells.small
    raster = density.astype(np.float32)
    tif = out_dir / "population_100m.tif"
    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32",
        "crs": f"EPSG:{UTM_EPSG}", "transform": transform, "nodata": -1.0,
        "compress": "deflate", "predictor": 3, "tiled": True, "blockxsize": 512, "blockysize": 512,
    }  # fmt: skip
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(raster, 1)
        dst.update_tags(
            SOURCE="township totals: WorldPop (www.worldpop.org, CC BY 4.0) via tsinghua-fib-lab/mosstool",
            DERIVATION="each township's total spread evenly over the 100 m cells whose centre it contains "
            "(dasymetric by area only, NOT a WorldPop raster)",
            UNITS="people per 100 m cell",
        )
    total_raster = float(raster[raster > 0].astype(np.float64).sum())
    total_towns = float(towns["population"].sum())
    rel = abs(total_raster - total_towns) / total_towns
    report.checks["population_raster_sum"] = total_raster
    report.checks["population_townships_sum"] = total_towns
    report.checks["population_relative_difference"] = rel
    if rel > 0.005:
        raise DataSourceError(
            f"population raster sums to {total_raster:.0f}, townships to {total_towns:.0f} ({rel:.2%})."
        )
    report.files["population_100m.tif"] = {
        "title": "Population per 100 m cell, spread from township totals",
        "source": "derived from townships.geojson (WorldPop totals)",
        "licence": "CC BY 4.0, credit 'WorldPop (www.worldpop.org)'",
        "date": "as townships.geojson",
        "crs": f"EPSG:{UTM_EPSG} (100 m cells need metres)",
        "bbox": [round(float(v), 1) for v in (x0, y1 - height * POP_CELL_M, x0 + width * POP_CELL_M, y1)],
        "derivation": f"rasterised township ids at cell centres ({width}x{height} cells), each township's "
        f"population divided evenly over its cells; {len(small)} townships smaller than a cell placed at their "
        f"representative point. Sum {total_raster:.0f} vs townships {total_towns:.0f} ({rel:.4%}).",
    }
    return towns
