"""The site catalogue: candidate sites, sub-sites and supporting places."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.crs import lonlat_to_utm
from geo.errors import NotFoundError

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import NDArray

    from layers.registry import LayerStore

__all__ = ["Site", "SiteCatalog"]


@dataclass(frozen=True)
class Site:
    """One place of the catalogue, with its WGS84 centre and boundary."""

    id: str
    parent: str
    group: str
    kind: str
    name_zh: str
    name_en: str
    lon: float
    lat: float
    boundary: shapely.Geometry
    properties: dict[str, Any]

    def boundary_utm(self) -> shapely.Geometry:
        """Return the boundary in UTM 50N."""

        def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
            x, y = lonlat_to_utm(coords[:, 0], coords[:, 1], name=f"site {self.id}")
            return np.column_stack([x, y])

        return shapely.transform(self.boundary, project)


class SiteCatalog:
    """Look up sites by id or name."""

    def __init__(self, layers: LayerStore) -> None:
        self._layers = layers

    def frame(self) -> gpd.GeoDataFrame:
        """Return every site as a GeoDataFrame (a copy)."""
        return self._layers.load("sites")

    def ids(self) -> list[str]:
        """Return every site id."""
        return list(self.frame()["id"])

    def get(self, key: str) -> Site:
        """Return a site by id, or by its Chinese or English name (case-insensitive)."""
        df = self.frame()
        k = key.strip().lower()
        hit = df[(df["id"] == k) | (df["name_zh"] == key.strip()) | (df["name_en"].str.lower() == k)]
        if hit.empty:
            close = difflib.get_close_matches(k, list(df["id"]) + list(df["name_en"].str.lower()), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise NotFoundError(f"no site {key!r}.{hint} Known ids: {', '.join(df['id'])}.")
        row = hit.iloc[0]
        props = {c: row[c] for c in df.columns if c != "geometry"}
        return Site(
            id=str(row["id"]),
            parent=str(row["parent"] or ""),
            group=str(row["group"]),
            kind=str(row["kind"]),
            name_zh=str(row["name_zh"]),
            name_en=str(row["name_en"]),
            lon=float(row["centre_lon"]),
            lat=float(row["centre_lat"]),
            boundary=row.geometry,
            properties=props,
        )

    def children(self, site_id: str) -> gpd.GeoDataFrame:
        """Return the sub-sites of a site."""
        df = self.frame()
        return df[df["parent"] == site_id]
