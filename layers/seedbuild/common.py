"""What every step of the seed build shares: the report, provenance texts, small writers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from layers.credits import OSM_CONTRIBUTORS

if TYPE_CHECKING:
    from numpy.typing import NDArray


OSM_CREDIT = OSM_CONTRIBUTORS
ODBL = "ODbL 1.0 (Open Database License), attribution: " + OSM_CREDIT


@dataclass
class SeedReport:
    """What a seed build wrote and measured."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    registration: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)


def sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file (of a folder: of its files' names and hashes, sorted).

    Parameters
    ----------
    path
        The file or folder.
    """
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(path.iterdir()):
            h.update(f"{f.name}\t{sha256(f)}\n".encode())
        return h.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bbox(gdf: gpd.GeoDataFrame) -> list[float]:
    """Return a frame's bounds rounded to 6 decimals.

    Parameters
    ----------
    gdf
        A GeoDataFrame in WGS84.
    """
    return [round(float(v), 6) for v in gdf.total_bounds]


def valid_polygons(geoms: gpd.GeoSeries) -> NDArray[np.object_]:
    """Repair polygons, keeping only polygonal parts (no collapsed lines or points).

    Parameters
    ----------
    geoms
        Polygons to repair.
    """
    fixed = shapely.make_valid(geoms.values, method="structure", keep_collapsed=False)
    out = []
    for g in fixed:
        if g.geom_type == "GeometryCollection":
            g = shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")])
        out.append(g)
    return np.array(out, dtype=object)


def write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write an RFC 7946 GeoJSON file with 7 decimals (replacing it).

    Parameters
    ----------
    gdf
        A GeoDataFrame in WGS84.
    path
        The file to write.
    """
    path.unlink(missing_ok=True)
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio", layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": 7})
