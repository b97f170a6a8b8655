"""The site catalogue: candidate sites, sub-sites and supporting places."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from functools import cached_property
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
    """Look up sites by id or name.

    Parameters
    ----------
    layers
        The layer store holding ``sites``.
    """

    def __init__(self, layers: LayerStore) -> None:
        self._layers = layers

    def frame(self) -> gpd.GeoDataFrame:
        """Return every site as a GeoDataFrame (a copy)."""
        return self._layers.load("sites")

    def ids(self) -> list[str]:
        """Return every site id."""
        return list(self.frame()["id"])

    def get(self, key: str) -> Site:
        """Return a site by id, or by its Chinese or English name (case-insensitive).

        Parameters
        ----------
        key
            A site id, or its Chinese or English name.
        """
        sites, keys = self._lookup
        k = key.strip()
        sid = keys.get(k.lower(), keys.get(k))
        if sid is None:
            df = self.frame()
            close = difflib.get_close_matches(k.lower(), list(df["id"]) + list(df["name_en"].str.lower()), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise NotFoundError(f"no site {key!r}.{hint} Known ids: {', '.join(df['id'])}.")
        site = sites[sid]
        return replace(site, properties=dict(site.properties))  # callers may change their copy

    @cached_property
    def _lookup(self) -> tuple[dict[str, Site], dict[str, str]]:
        """Return every site by id, and the id of every lower-case id and English name and Chinese name.

        Built once: the catalogue is read-only while the service runs. The first site wins
        where two share a name, as the frame's order.
        """
        df = self.frame()
        sites: dict[str, Site] = {}
        keys: dict[str, str] = {}
        for row in df.to_dict("records"):
            sid = str(row["id"])
            sites[sid] = Site(
                id=sid,
                parent=str(row["parent"] or ""),
                group=str(row["group"]),
                kind=str(row["kind"]),
                name_zh=str(row["name_zh"]),
                name_en=str(row["name_en"]),
                lon=float(row["centre_lon"]),
                lat=float(row["centre_lat"]),
                boundary=row["geometry"],
                properties={c: v for c, v in row.items() if c != "geometry"},
            )
        # Ids first, so that an id always means its own site; then names, first match wins.
        for sid in sites:
            keys.setdefault(sid, sid)
        for sid, site in sites.items():
            keys.setdefault(site.name_en.lower(), sid)
            keys.setdefault(site.name_zh, sid)
        return sites, keys

    def children(self, site_id: str) -> gpd.GeoDataFrame:
        """Return the sub-sites of a site.

        Parameters
        ----------
        site_id
            A site id.
        """
        df = self.frame()
        return df[df["parent"] == site_id]
