"""Footprint analysis as a service: what a proposed footprint touches, on the loaded layers.

The geometry work is in `geo.footprints`; this module loads the layers (in UTM 50N once),
the networks, the population raster and the elevation model, and assembles the
analysis of a footprint as plain data (JSON-ready dicts) that the API serves and the
proposal store saves.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import rasterio
import shapely
from rasterio import features
from rasterio.windows import from_bounds

from geo import footprints as fp
from geo.crs import point_to_lonlat, to_utm
from geo.errors import InvalidInputError, NoRouteError, NotFoundError, OutsideCoverageError
from geo.network import street_label, street_name

if TYPE_CHECKING:
    import geopandas as gpd

    from layers.coverage import CoverageService
    from layers.networks import NetworkStore
    from layers.registry import LayerStore
    from layers.routing import Place, RoutingService
    from layers.sites import SiteCatalog

__all__ = ["DEFAULT_BUFFER_M", "Buildable", "FootprintService"]

DEFAULT_BUFFER_M = 50.0
PROTECTED_KINDS = ("candidate_site", "sub_site")
MAJOR_ROADS = {"motorway", "trunk", "primary", "secondary"}
POPULATION_RADII_M = (500.0, 1000.0)
_ENTRANCES_TRIED = 8


def _highway(data: dict[str, Any]) -> str:
    hw = data.get("highway", "")
    return str(hw[0] if isinstance(hw, list) else hw).removesuffix("_link")


class Buildable(TypedDict):
    """A parcel's buildable part, and the protected and buffer parts removed (areas in m², geometries WGS84)."""

    protected_sites: list[str]
    heritage_buildings: int
    buffer_m: float
    parcel_m2: float
    buildable_m2: float
    protected_m2: float
    buffer_m2: float
    geometries: dict[str, shapely.Geometry]


class FootprintService:
    """Analyse footprints against the sites, heritage buildings, roads, subway, people and terrain.

    Parameters
    ----------
    layers, networks, sites, routing, coverage
        The application's stores and services.
    """

    def __init__(
        self,
        layers: LayerStore,
        networks: NetworkStore,
        sites: SiteCatalog,
        routing: RoutingService,
        coverage: CoverageService,
    ) -> None:
        self.layers = layers
        self.networks = networks
        self.sites = sites
        self.routing = routing
        self.coverage = coverage
        self._lock = threading.Lock()

    # -- layers in UTM ------------------------------------------------------------------

    @cached_property
    def heritage_utm(self) -> gpd.GeoDataFrame:
        """Return the heritage buildings in UTM 50N (with a spatial index)."""
        h = to_utm(self.layers.load("heritage-buildings")).reset_index(drop=True)
        h["label"] = [
            f"{n} ({o})" if isinstance(n, str) and n else f"building {o}"
            for n, o in zip(h["name"], h["osm_id"], strict=True)
        ]
        _ = h.sindex
        return h

    @cached_property
    def zones_utm(self) -> gpd.GeoDataFrame:
        """Return the protection zones (site boundaries of candidate sites and sub-sites), UTM 50N."""
        s = self.sites.frame()
        z = to_utm(s[s["kind"].isin(PROTECTED_KINDS)]).reset_index(drop=True)
        z["label"] = [f"{en} {zh} ({i})" for en, zh, i in zip(z["name_en"], z["name_zh"], z["id"], strict=True)]
        _ = z.sindex
        return z

    @cached_property
    def _entrances(self) -> gpd.GeoDataFrame:
        e = to_utm(self.layers.load("subway-entrances")).reset_index(drop=True)
        _ = e.sindex
        return e

    # -- analysis -----------------------------------------------------------------------

    def analyze(
        self,
        footprint: fp.Footprint,
        *,
        use: str | None = None,
        floors: int | None = None,
        height_m: float | None = None,
        underground: bool = False,
        buffer_m: float = DEFAULT_BUFFER_M,
    ) -> fp.Analysis:
        """Return everything a planner needs to know about a footprint (JSON-ready).

        Parameters
        ----------
        footprint
            The parsed footprint (`geo.footprints.parse_footprint`).
        use
            The intended use (free text), or None.
        floors
            Storeys above ground, or None.
        height_m
            Height above ground, metres, or None.
        underground
            Whether the building is underground.
        buffer_m
            The buffer kept clear around protection zones, metres.
        """
        if not 0 <= buffer_m <= 1000:
            raise InvalidInputError(f"`buffer_m` must be between 0 and 1000 m; got {buffer_m}.")
        g = footprint.geometry_utm
        c = g.centroid
        clon, clat = point_to_lonlat(c.x, c.y)
        site, sub_site, nearest = self._site_of(g)
        out: fp.Analysis = {
            "area_m2": round(float(g.area), 2),
            "perimeter_m": round(float(g.length), 2),
            "centroid": [round(clon, 7), round(clat, 7)],
            "use": use,
            "floors": floors,
            "height_m": height_m,
            "underground": underground,
            "buffer_m": buffer_m,
            "warnings": list(footprint.warnings),
            "site": site,
            "sub_site": sub_site,
            "nearest_site": nearest,
            "heritage": fp.overlaps(g, self.heritage_utm, name_col="label"),
            "protection_zones": fp.overlaps(g, self.zones_utm, name_col="label"),
            "buffer_zones": self._buffer_zones(g, buffer_m),
            "roads": self._roads(g, clon, clat),
            "access": self._access(g, clon, clat),
            "population": {f"within_{int(r)}m": round(self._people_within(g, r), 1) for r in POPULATION_RADII_M},
            "elevation": self._elevation(footprint.geometry),
            "conflicts": [],
        }
        out["conflicts"] = [
            {"severity": k.severity, "kind": k.kind, "message": k.message}
            for k in fp.conflicts(out, underground=underground)
        ]
        return out

    def _site_of(self, g: shapely.Geometry) -> tuple[str | None, str | None, fp.NearestSite | None]:
        """Return the candidate site and sub-site holding most of a footprint, or the nearest candidate site."""
        z = self.zones_utm
        # Per kind, the zone holding most of the footprint; among equals, the smallest
        # (the most specific: a palace rather than the road block around it).
        best: dict[str, tuple[float, float, str]] = {}
        for i in z.sindex.query(g, predicate="intersects"):
            kind = str(z["kind"].iloc[i])
            zone = z.geometry.iloc[i]
            share = round(float(shapely.intersection(g, zone).area) / g.area, 3)
            key = (share, -float(zone.area), str(z["id"].iloc[i]))
            if share > 0 and (kind not in best or key[:2] > best[kind][:2]):
                best[kind] = key
        site = best["candidate_site"][2] if "candidate_site" in best else None
        sub = best["sub_site"][2] if "sub_site" in best else None
        if sub is not None and site is None:
            site = str(self.sites.get(sub).parent or "") or None
        nearest: fp.NearestSite | None = None
        if site is None:
            cand = z[z["kind"] == "candidate_site"]
            d = cand.geometry.distance(g)
            j = int(np.argmin(d.to_numpy()))
            nearest = {"site": str(cand["id"].iloc[j]), "distance_m": round(float(d.iloc[j]), 1)}
        return site, sub, nearest

    def _buffer_zones(self, g: shapely.Geometry, buffer_m: float) -> list[fp.Overlap]:
        if buffer_m <= 0:
            return []
        z = self.zones_utm
        out: list[fp.Overlap] = []
        for i in z.sindex.query(g, predicate="dwithin", distance=buffer_m):
            zone = z.geometry.iloc[i]
            ring = shapely.difference(shapely.buffer(zone, buffer_m), zone)
            inter = float(shapely.intersection(g, ring).area)
            if inter > 0.01:
                out.append(
                    {"name": str(z["label"].iloc[i]), "overlap_m2": round(inter, 2), "share": round(inter / g.area, 6)}
                )
        return sorted(out, key=lambda d: -d["overlap_m2"])

    def _roads(self, g: shapely.Geometry, lon: float, lat: float) -> fp.RoadsCut:
        try:
            net = self.networks.locate(lon, lat, mode="drive", label="footprint")
        except OutsideCoverageError as exc:
            return {"count": 0, "length_m": 0.0, "streets": [], "covered_by_network": False, "message": str(exc)}
        idx = net.edge_index
        hits = idx.tree.query(g, predicate="intersects")
        seen: dict[tuple[int, int], fp.RoadCut] = {}
        for h in hits:
            u, v, k = (int(t) for t in idx.edges[h])
            key = (min(u, v), max(u, v))
            if key in seen:
                continue
            data = net.graph.edges[u, v, k]
            inside = float(shapely.intersection(idx.geoms[h], g).length)
            hw = _highway(data)
            seen[key] = {
                "name": street_name(data),
                "label": street_label(data),
                "highway": hw,
                "length_inside_m": round(inside, 1),
                "major": hw in MAJOR_ROADS,
            }
        streets = sorted(seen.values(), key=lambda r: -r["length_inside_m"])
        return {
            "count": len(streets),
            "length_m": round(sum(r["length_inside_m"] for r in streets), 1),
            "streets": streets,
            "covered_by_network": True,
        }

    def _access(self, g: shapely.Geometry, lon: float, lat: float) -> fp.AccessFigures:
        out: fp.AccessFigures = {
            "drive_distance_m": None,
            "access_point": None,
            "access_street": None,
            "walk_to_subway_m": None,
            "subway_entrance": None,
            "message": None,
        }
        try:
            net = self.networks.locate(lon, lat, mode="drive", label="footprint")
        except OutsideCoverageError as exc:
            out["message"] = str(exc)
            return out
        idx = net.edge_index
        # The nearest drivable edge to the footprint (not to its centroid).
        i_near, dist = idx.tree.query_nearest(g, return_distance=True, all_matches=False)
        i = int(i_near[0])
        line = idx.geoms[i]
        on = shapely.get_point(shapely.shortest_line(g, line), 1)
        alon, alat = point_to_lonlat(on.x, on.y)
        u, v, k = (int(t) for t in idx.edges[i])
        data = net.graph.edges[u, v, k]
        name = data.get("name", "")
        out["drive_distance_m"] = round(float(dist[0]), 1)
        out["access_point"] = [round(alon, 7), round(alat, 7)]
        out["access_street"] = " / ".join(name) if isinstance(name, list) else (name if isinstance(name, str) else "")
        out["access_edge"] = [u, v, k]
        out["network"] = net.name
        out["walk_to_subway_m"], out["subway_entrance"] = self._walk_to_subway(g, lon, lat)
        return out

    def _walk_to_subway(self, g: shapely.Geometry, lon: float, lat: float) -> tuple[float | None, str | None]:
        """Return the shortest walk from a footprint to a subway entrance, metres, and the entrance's name."""
        try:
            walk = self.networks.locate(lon, lat, mode="walk", label="footprint")
        except OutsideCoverageError:
            return None, None
        idx = walk.edge_index
        i_near, _ = idx.tree.query_nearest(g, return_distance=True, all_matches=False)
        line = idx.geoms[int(i_near[0])]
        on = shapely.get_point(shapely.shortest_line(g, line), 1)
        slon, slat = point_to_lonlat(on.x, on.y)
        ent = self._entrances
        order = np.argsort(ent.geometry.distance(on).to_numpy())[: 2 * _ENTRANCES_TRIED]
        places = [(float(p.x), float(p.y)) for p in ent.geometry.iloc[order]]
        dests: list[Place] = []
        names = []
        for (x, y), j in zip(places, order, strict=True):
            elon, elat = point_to_lonlat(x, y)
            if walk.covers(elon, elat):  # entrances beyond the walk network cannot be routed to
                dests.append((elon, elat))
                names.append(str(ent["name"].iloc[j]))
        if not dests:
            return None, None
        try:
            costs, _, _ = self.routing.matrix([(slon, slat)], dests, mode="walk", metric="shortest", max_snap_m=500.0)
        except (OutsideCoverageError, NoRouteError, InvalidInputError):
            return None, None
        row = costs[0]
        if not np.isfinite(row).any():
            return None, None
        j = int(np.nanargmin(np.where(np.isfinite(row), row, np.inf)))
        return round(float(row[j]), 1), names[j]

    def _people_within(self, g: shapely.Geometry, radius_m: float) -> float:
        """Return the people of the 100 m cells whose centre lies within ``radius_m`` of the footprint."""
        area = shapely.buffer(g, radius_m)
        people = self.coverage.people
        _, tf = self.coverage._population
        minx, miny, maxx, maxy = area.bounds
        col0, row0 = (int(np.floor(v)) for v in ~tf @ (minx, maxy))
        col1, row1 = (int(np.ceil(v)) for v in ~tf @ (maxx, miny))
        row0, col0 = max(row0, 0), max(col0, 0)
        row1, col1 = min(row1, people.shape[0]), min(col1, people.shape[1])
        if row1 <= row0 or col1 <= col0:
            return 0.0
        win_tf = tf @ tf.translation(col0, row0)
        mask = features.geometry_mask([area], (row1 - row0, col1 - col0), win_tf, invert=True)
        return float(people[row0:row1, col0:col1][mask].astype(np.float64).sum())

    def _elevation(self, geom_wgs84: shapely.Geometry) -> fp.Elevation:
        path = self.layers.path("elevation")
        with rasterio.open(path) as src:
            b = src.bounds
            minx, miny, maxx, maxy = geom_wgs84.bounds
            if minx < b.left or maxx > b.right or miny < b.bottom or maxy > b.top:
                return {
                    "available": False,
                    "message": f"no elevation data here: the shipped DEM (SRTM 30 m) covers only part of Haidian "
                    f"({b.left:.3f}–{b.right:.3f} E, {b.bottom:.3f}–{b.top:.3f} N).",
                }
            win = from_bounds(minx, miny, maxx, maxy, transform=src.transform).round_offsets().round_lengths()
            win = rasterio.windows.Window(win.col_off - 1, win.row_off - 1, win.width + 3, win.height + 3)
            win = win.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
            dem = src.read(1, window=win).astype(np.float64)
            wtf = src.transform @ src.transform.translation(win.col_off, win.row_off)  # window_transform warns
            res_x, res_y = src.res
        valid = dem > -1000
        mask = features.geometry_mask([geom_wgs84], dem.shape, wtf, invert=True, all_touched=True) & valid
        if not mask.any():
            return {"available": False, "message": "no elevation data here (voids in the DEM)."}
        lat = (geom_wgs84.bounds[1] + geom_wgs84.bounds[3]) / 2
        dx = res_x * 111_320.0 * np.cos(np.radians(lat))
        dy = res_y * 110_574.0
        gy, gx = np.gradient(np.where(valid, dem, np.nan), dy, dx)
        slope = np.hypot(gx, gy) * 100.0
        vals, sl = dem[mask], slope[mask]
        sl = sl[np.isfinite(sl)]
        return {
            "available": True,
            "source": "SRTM 30 m (seeds/elevation_haidian_srtm30.tif)",
            "cells": int(mask.sum()),
            "elevation_m_min": float(vals.min()),
            "elevation_m_max": float(vals.max()),
            "elevation_m_mean": round(float(vals.mean()), 1),
            "slope_pct_mean": round(float(sl.mean()), 1) if sl.size else None,
            "slope_pct_max": round(float(sl.max()), 1) if sl.size else None,
        }

    # -- metrics for comparison, buildable area ---------------------------------------

    @staticmethod
    def metrics(analysis: fp.Analysis) -> dict[str, float | None]:
        """Return the comparable figures of an analysis (see `geo.footprints.COMPARE_ROWS`).

        Parameters
        ----------
        analysis
            An analysis from `analyze`.
        """
        return {
            "area_m2": analysis["area_m2"],
            "perimeter_m": analysis["perimeter_m"],
            "heritage_overlap_m2": round(sum(h["overlap_m2"] for h in analysis["heritage"]), 2),
            "protection_overlap_m2": round(
                max((z["overlap_m2"] for z in analysis["protection_zones"]), default=0.0), 2
            ),
            "buffer_overlap_m2": round(max((z["overlap_m2"] for z in analysis["buffer_zones"]), default=0.0), 2),
            "roads_cut": float(analysis["roads"]["count"]),
            "drive_distance_m": analysis["access"]["drive_distance_m"],
            "walk_to_subway_m": analysis["access"]["walk_to_subway_m"],
            "population_500m": analysis["population"]["within_500m"],
            "population_1km": analysis["population"]["within_1000m"],
            "conflicts_high": float(sum(c["severity"] == "high" for c in analysis["conflicts"])),
        }

    def buildable(
        self, parcel: fp.Footprint, *, buffer_m: float = DEFAULT_BUFFER_M, protected_sites: list[str] | None = None
    ) -> Buildable:
        """Return the buildable part of a parcel, and the protected and buffer parts removed.

        Protection zones are the heritage buildings and, unless ``protected_sites`` lists
        them, the boundaries of the sites the parcel is not mostly inside (a parcel inside
        a site is being planned for that site; its neighbours stay protected).

        Parameters
        ----------
        parcel
            The parcel (parsed footprint).
        buffer_m
            The buffer kept clear around protection zones, metres.
        protected_sites
            Also remove the candidate sites' boundaries.
        """
        if not 0 <= buffer_m <= 1000:
            raise InvalidInputError(f"`buffer_m` must be between 0 and 1000 m; got {buffer_m}.")
        g = parcel.geometry_utm
        z = self.zones_utm
        if protected_sites is None:
            ids = []
            for i in z.sindex.query(g, predicate="dwithin", distance=buffer_m):
                zone = z.geometry.iloc[i]
                if shapely.intersection(g, zone).area < 0.5 * g.area:
                    ids.append(str(z["id"].iloc[i]))
        else:
            known = set(z["id"])
            for s in protected_sites:
                if s not in known:
                    raise NotFoundError(f"`protected_sites`: no candidate site or sub-site {s!r}.")
            ids = list(protected_sites)
        zones = list(z.geometry[z["id"].isin(ids)])
        h = self.heritage_utm
        hits = h.sindex.query(g, predicate="dwithin", distance=buffer_m)
        zones += list(h.geometry.iloc[hits])
        parts = fp.buildable(g, zones, buffer_m=buffer_m)
        return {
            "protected_sites": ids,
            "heritage_buildings": len(hits),
            "buffer_m": buffer_m,
            "parcel_m2": round(float(g.area), 2),
            "buildable_m2": round(float(parts["buildable"].area), 2),
            "protected_m2": round(float(parts["protected"].area), 2),
            "buffer_m2": round(float(parts["buffer"].area), 2),
            "geometries": {
                "buildable": fp.to_lonlat(parts["buildable"]),
                "protected": fp.to_lonlat(parts["protected"]),
                "buffer": fp.to_lonlat(parts["buffer"]),
            },
        }
