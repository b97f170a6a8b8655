"""Coverage as a service: isochrones, people and stations reached, gaps, choosing sites.

The computation is in `geo.isochrones` and `geo.coverage`; this module loads what it
needs (the population raster, townships, stations) and keeps one `ReachIndex` per
network, built on first use (or at start-up, see `CoverageService.warm`).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import rasterio
import shapely

from geo import coverage as cov
from geo.crs import lonlat_to_utm, to_utm
from geo.errors import InvalidInputError, OutsideCoverageError
from geo.isochrones import DEFAULT_BANDS_MIN, Band, Grid, Reach, ReachIndex, check_bands
from geo.network import MODES
from layers.credits import OSM_CREDIT
from layers.diskcache import load_or_build
from layers.transit import TransitQuery

if TYPE_CHECKING:
    from pathlib import Path

    import geopandas as gpd
    import pandas as pd
    from affine import Affine
    from numpy.typing import NDArray

    from geo.routing import Metric
    from layers.networks import NetworkStore, RoadNetwork
    from layers.registry import LayerStore
    from layers.routing import Place, ResolvedPlace, RoutingService
    from layers.transit import TransitService

__all__ = [
    "BandFigures",
    "CoverageService",
    "Isochrone",
    "SiteSetCoverage",
]

SURFACE_NODATA = -9999.0
ISOCHRONE_CACHE_SIZE = 64
# Nodes this close to the outline of a network's extent (itself 300 m outside the data)
# are at the edge of the data: a band reaching one is cut by the data, not by time.
EDGE_MARGIN_M = 600.0
_BANDS_CACHE_VERSION = "2"
_ZONES_CACHE_VERSION = "3"  # 3: memory-mapped
_REACH_CACHE_VERSION = "2"  # bump when ReachIndex's construction, its file format or the bands' computation change
# Fine cells per 100 m population cell (25 m cells): fine enough that roads 25 m apart
# (dual carriageways, side roads) fall in different cells.
CELLS_PER_POPULATION_CELL = 4
# The regional network (the whole municipality) uses 100 m cells, and counts a roadless area
# enclosed by reached major roads as reached up to this size: the skeleton has no local
# streets (its mesh is about 4 km across), so the land between its roads is taken to be
# reachable from them. Its bands are marked coarse.
REGIONAL_CELLS_PER_POPULATION_CELL = 1
REGIONAL_FILL_M2 = 25e6
REGIONAL_BANDS_MIN = (15.0, 30.0, 60.0, 90.0)
# A site's own bands (its page, the index's figures) and their display tolerance, metres
# (figures are computed on the exact cells; on the regional network outlines follow its 100 m cells).
SITE_BANDS_MIN = (5.0, 10.0, 15.0, 30.0)
SITE_DISPLAY_TOLERANCE_M = 20.0
# A site page's transit bands, wider than its drive and walk ones (a choice for display, not data).
TRANSIT_SITE_BANDS_MIN = (15.0, 30.0, 45.0, 60.0)


@dataclass(frozen=True)
class BandFigures:
    """What one band covers."""

    minutes: float
    polygon: shapely.Geometry = field(repr=False)
    area_km2: float
    population: float
    population_share: float
    stations: dict[str, list[str]]
    entrances: int
    truncated: bool = False  # the band reaches the edge of its network: people and stations are lower bounds
    metres: float | None = None  # for a distance band: its distance along the network
    coarse: bool = False  # computed on the regional skeleton (major roads only)


@dataclass(frozen=True)
class Isochrone:
    """Bands of travel time from (or to) one place."""

    place: ResolvedPlace
    reverse: bool
    bands: list[BandFigures]
    townships: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class SiteSetCoverage:
    """Coverage of a set of places within one travel time."""

    places: list[ResolvedPlace]
    minutes: float
    per_site: list[BandFigures]
    union: BandFigures
    overlap: BandFigures
    townships: pd.DataFrame = field(repr=False)
    network: RoadNetwork


class CoverageService:
    """Isochrones and coverage over the loaded networks.

    Parameters
    ----------
    networks
        The network store.
    layers
        The layer store (population raster, townships, stations).
    routing
        The routing service: resolves places and owns the engines.
    transit
        The public transport service (``mode="transit"``), or None.
    """

    def __init__(
        self,
        networks: NetworkStore,
        layers: LayerStore,
        routing: RoutingService,
        *,
        transit: TransitService | None = None,
    ) -> None:
        self.networks = networks
        self.transit = transit
        self.layers = layers
        self.routing = routing
        self._indexes: dict[tuple[str, str, str], ReachIndex] = {}
        self._edge_nodes: dict[tuple[str, str], NDArray[np.bool_]] = {}
        self._lock = threading.Lock()
        self._outlines: dict[int, shapely.Geometry] | None = None
        self._iso_cache: dict[tuple[object, ...], Isochrone] = {}
        self._assessed_cache: dict[tuple[str, str], NDArray[np.bool_]] = {}

    # -- data -----------------------------------------------------------------------

    @cached_property
    def _population(self) -> tuple[NDArray[np.float32], Affine]:
        with rasterio.open(self.layers.path("population")) as src:
            arr = src.read(1).astype(np.float32)
            nodata = src.nodata
            tf = src.transform
        if nodata is not None:
            arr[arr == nodata] = 0.0
        arr[~np.isfinite(arr)] = 0.0
        return arr, tf

    @property
    def people(self) -> NDArray[np.float32]:
        """Return people per 100 m cell (UTM 50N), 0 for nodata."""
        return self._population[0]

    @cached_property
    def total_population(self) -> float:
        """Return the population of Beijing (the raster's sum)."""
        return float(self.people.astype(np.float64).sum())

    @cached_property
    def townships(self) -> gpd.GeoDataFrame:
        """Return the townships (WGS84)."""
        return self.layers.load("townships")

    @cached_property
    def zones(self) -> cov.ZoneCells:
        """Return the townships' people by population cell (as the raster was built; kept on disk)."""

        def build() -> cov.ZoneCells:
            arr, tf = self._population
            utm = to_utm(self.townships)
            return cov.zone_cells(
                list(utm.geometry), self.townships["population"].to_numpy(dtype=float), tf, (arr.shape[0], arr.shape[1])
            )

        # Memory-mapped (52 MB of arrays, read-only): a start reads none of it, and the workers share it.
        path = self.networks.cache_dir / f"zones-{self._stamp}-v{_ZONES_CACHE_VERSION}.pkl"
        return load_or_build(path, build, mapped=True, supersedes="zones-*.pkl")

    @cached_property
    def _stamp(self) -> str:
        """Return a short hash of the shipped data's manifest (names files derived from the seeds)."""
        return hashlib.sha256(self._data_stamp).hexdigest()[:12]

    @cached_property
    def _stations(self) -> tuple[gpd.GeoDataFrame, NDArray[np.float64], NDArray[np.float64]]:
        st = self.layers.load("subway-stations")
        x, y = lonlat_to_utm(st.geometry.x.to_numpy(), st.geometry.y.to_numpy(), name="subway stations")
        return st, x, y

    @cached_property
    def _entrances(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        en = self.layers.load("subway-entrances")
        return lonlat_to_utm(en.geometry.x.to_numpy(), en.geometry.y.to_numpy(), name="subway entrances")

    # -- indexes --------------------------------------------------------------------

    def index(self, net: RoadNetwork, metric: Metric = "fastest") -> ReachIndex:
        """Return the reach index of a network (by time, or by distance for ``shortest``), built on first use (about 1 s).

        Parameters
        ----------
        net
            The road network.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        """
        key = (net.name, net.mode, metric)
        with self._lock:
            if key not in self._indexes:
                engine = self.routing.engine(net)
                x, y = lonlat_to_utm(engine.lon, engine.lat, name=f"network {net.name}")
                regional = net.source.regional
                grid = Grid.covering(
                    (float(x.min()), float(y.min()), float(x.max()), float(y.max())),
                    self._population[1],
                    k=REGIONAL_CELLS_PER_POPULATION_CELL if regional else CELLS_PER_POPULATION_CELL,
                )
                fill = {"max_fill_m2": REGIONAL_FILL_M2} if regional else {}
                # Kept on disk: named by the graph, the grid's raster (the shipped data) and this code.
                path = (
                    self.networks.cache_dir
                    / f"{net.cache_key}.reach-{metric}-{self._stamp}-v{_REACH_CACHE_VERSION}.pkl"
                    if net.cache_key
                    else None
                )
                # Memory-mapped: 50-90 MB of arrays per index, read-only, shared by the workers.
                built = load_or_build(
                    path,
                    lambda: ReachIndex(engine, grid, metric=metric, **fill),
                    mapped=True,
                    supersedes=f"{net.cache_key}.reach-{metric}-*.pkl",
                )
                self._indexes[key] = built.attach(engine)
            return self._indexes[key]

    def edge_nodes(self, net: RoadNetwork) -> NDArray[np.bool_]:
        """Return which nodes lie at the edge of the network's data (within `EDGE_MARGIN_M` of its extent's outline).

        A band that reaches one of them is cut by the end of the data, not by time.

        Parameters
        ----------
        net
            The road network.
        """
        key = (net.name, net.mode)
        with self._lock:
            hit = self._edge_nodes.get(key)
        if hit is None:
            engine = self.routing.engine(net)
            x, y = lonlat_to_utm(engine.lon, engine.lat, name=f"network {net.name}")
            if net.source.regional:
                # The skeleton runs on past Beijing's border (the extent that decides which places
                # it answers for); its data ends at the hull of its nodes.
                outline = shapely.convex_hull(shapely.multipoints(np.column_stack([x, y]))).exterior
            else:
                ring = np.asarray(net.extent.exterior.coords)
                rx, ry = lonlat_to_utm(ring[:, 0], ring[:, 1], name="extent")
                outline = shapely.LineString(np.column_stack([rx, ry]))
            hit = np.asarray(shapely.dwithin(outline, shapely.points(x, y), EDGE_MARGIN_M))
            with self._lock:
                self._edge_nodes[key] = hit
        return hit

    def _truncated(self, place: ResolvedPlace, reach: Reach, limit: float) -> bool:
        """Return whether the part of ``reach`` within ``limit`` touches the edge of the network."""
        edge = self.edge_nodes(place.network)
        return bool((reach.node_minutes[edge] <= limit).any())

    def warm(self, mode: str) -> None:
        """Build the reach indexes of every network of ``mode`` and load the layers now.

        Parameters
        ----------
        mode
            ``"drive"`` or ``"walk"``.
        """
        for net in self.networks.all(mode):
            self.index(net)
        _ = self.zones, self._stations, self._entrances, self.total_population

    # -- figures --------------------------------------------------------------------

    def figures(
        self,
        band: Band,
        *,
        polygon: bool = True,
        tolerance_m: float = 0.0,
        truncated: bool = False,
        metres: float | None = None,
        coarse: bool = False,
    ) -> BandFigures:
        """Return the area, people and stations of a band.

        Its polygon too, unless ``polygon`` is False; ``tolerance_m`` simplifies it for display.

        Parameters
        ----------
        band
            The band.
        polygon
            The band's polygon, when already traced.
        tolerance_m
            Simplification tolerance, metres.
        truncated
            Whether the band reaches the edge of the network's data.
        metres
            The band's distance, metres (None for a time band).
        coarse
            Whether the band is on the coarse regional network.
        """
        people = cov.population(band, self.people)
        st, sx, sy = self._stations
        inside = band.contains(sx, sy)
        by_line: dict[str, list[str]] = {}
        for name, lines in zip(st["name"][inside], st["lines"][inside], strict=True):
            for line in str(lines).split(";") if lines else ["unknown"]:
                by_line.setdefault(line.strip() or "unknown", []).append(str(name))
        ex, ey = self._entrances
        return BandFigures(
            minutes=band.minutes,
            polygon=band.polygon(tolerance_m=tolerance_m) if polygon else shapely.Polygon(),
            area_km2=band.area_m2 / 1e6,
            population=people,
            population_share=people / self.total_population if self.total_population else 0.0,
            stations={k: sorted(v) for k, v in sorted(by_line.items())},
            entrances=int(band.contains(ex, ey).sum()),
            truncated=truncated,
            metres=metres,
            coarse=coarse,
        )

    def coarse_warnings(self, net: RoadNetwork) -> list[str]:
        """Return what a coverage answer on the regional network cannot be trusted for (nothing on a detailed one).

        Parameters
        ----------
        net
            The road network.
        """
        if not net.source.regional:
            return []
        return [
            *self.routing.precision_warnings(net),
            f"Coverage on the regional skeleton is coarse (marked coarse): 100 m cells, and the land between reached "
            f"major roads (up to {REGIONAL_FILL_M2 / 1e6:g} km² per enclosed area) counts as reached, because local "
            "streets are not in the data; areas and people are approximate. People are counted inside Beijing only "
            "(the population data ends at the municipal border).",
        ]

    def default_bands(self, net: RoadNetwork) -> tuple[float, ...]:
        """Return the bands that suit a network: 15/30/60/90 min on the regional one, else `DEFAULT_BANDS_MIN`.

        Parameters
        ----------
        net
            The road network.
        """
        return REGIONAL_BANDS_MIN if net.source.regional else tuple(DEFAULT_BANDS_MIN)

    def site_bands(self, site_id: str, mode: str) -> Isochrone:
        """Return a site's own bands: `SITE_BANDS_MIN`, or on the regional network its own (15-90 min).

        Parameters
        ----------
        site_id
            A site id.
        mode
            ``"drive"``, ``"walk"`` or ``"transit"`` (`TRANSIT_SITE_BANDS_MIN`, 08:00-09:00, the median).
        """
        if mode == "transit":
            return self.isochrone(
                site_id, mode=mode, bands_min=TRANSIT_SITE_BANDS_MIN, tolerance_m=SITE_DISPLAY_TOLERANCE_M
            )
        net = self.routing.resolve(site_id, mode=mode, label="site").network
        if net.source.regional:  # 100 m cells: outlines simplified to the cell size
            return self.isochrone(site_id, mode=mode, bands_min=self.default_bands(net), tolerance_m=100.0)
        return self.isochrone(site_id, mode=mode, bands_min=SITE_BANDS_MIN, tolerance_m=SITE_DISPLAY_TOLERANCE_M)

    def warm_sites(self) -> None:
        """Compute (or load) every site's bands on the first mode that reaches it, not on a first visit.

        The first mode that reaches a site is the one its page shows (`RoutingService.site_networks`
        gives the same answer, with walking densities a warm-up does not need).
        """
        for sid in self.routing.sites.ids():
            for mode in MODES:
                try:
                    self.site_bands(sid, mode)
                except OutsideCoverageError:
                    continue
                break

    def township_table(self, bands: list[Band]) -> pd.DataFrame:
        """Return per township: population and people inside each band (columns ``within_<m>``).

        Parameters
        ----------
        bands
            The bands' figures, smallest first.
        """
        t = self.townships
        out = t[["township_id", "district", "township", "population"]].copy()
        for band in bands:
            out[f"within_{band.minutes:g}"] = cov.zone_population(band, self.zones)
        return out

    # -- requests -------------------------------------------------------------------

    def _reach(
        self,
        place: ResolvedPlace,
        *,
        limit_min: float,
        reverse: bool,
        metric: Metric = "fastest",
        transit: TransitQuery | None = None,
    ) -> Reach:
        if transit is not None:
            if reverse:
                raise InvalidInputError("transit reach is computed from a place, not towards it; drop `reverse`.")
            return self._transit().reach(place, self.index(place.network), limit_min=limit_min, query=transit)
        return self.index(place.network, metric).reach([place.snap], limit_min=limit_min, reverse=reverse)

    def _transit(self) -> TransitService:
        if self.transit is None:
            raise InvalidInputError("`mode` transit is not available: this service has no subway feed.")
        return self.transit

    def _resolve(self, place: Place, *, mode: str, label: str) -> ResolvedPlace:
        if mode == "transit":
            return self._transit().resolve(place, label=label)
        return self.routing.resolve(place, mode=mode, label=label)

    def isochrone(
        self,
        place: Place,
        *,
        mode: str = "drive",
        bands_min: tuple[float, ...] | list[float] | None = None,
        bands_m: tuple[float, ...] | list[float] | None = None,
        reverse: bool = False,
        label: str = "origin",
        tolerance_m: float = 0.0,
        transit: TransitQuery | None = None,
    ) -> Isochrone:
        """Return nested bands of travel time (or of distance, ``bands_m``) from (or, if ``reverse``, to) a place.

        Give ``bands_min`` or ``bands_m``, not both; with neither, the bands suit the place's
        network (`default_bands`). A band that reaches the edge of the
        network is marked ``truncated``. ``tolerance_m`` > 0 simplifies the polygons for
        display (figures are unchanged). Results for sites are kept (the shipped data does
        not change while serving).

        Parameters
        ----------
        place
            A ``(lon, lat)`` pair, a site id or a site name.
        mode
            ``"drive"``, ``"walk"`` or ``"transit"`` (walking and the subway).
        bands_min
            Band limits, minutes (None: the network's default bands).
        bands_m
            Band limits, metres along the network, instead of minutes.
        reverse
            Times towards the places instead of from them.
        label
            How the input is named in error messages.
        tolerance_m
            Simplification tolerance of the polygons, metres (0: the exact cell outlines).
        transit
            For ``mode="transit"``: the departure window, the percentile and stations shut
            (None: 08:00-09:00, the median).
        """
        if mode == "transit":
            transit = transit or TransitQuery()
            if bands_m is not None:
                raise InvalidInputError("transit bands are travel times; give `bands_min`, not `bands_m`.")
        else:
            transit = None
        if bands_m is not None and bands_min is not None:
            raise InvalidInputError("give `bands_min` (travel times) or `bands_m` (distances), not both.")
        metric: Metric = "shortest" if bands_m is not None else "fastest"
        if bands_m is not None:
            metres = check_bands(bands_m, label="bands_m", unit="metres", limits=self.routing.limits)
            bands = tuple(m / 60.0 for m in metres)  # a shortest-metric reach counts 60 m as a "minute"
        elif bands_min is not None:
            bands = check_bands(bands_min, limits=self.routing.limits)
        resolved = self._resolve(place, mode=mode, label=label)
        if bands_m is None and bands_min is None:
            bands = check_bands(self.default_bands(resolved.network), limits=self.routing.limits)
        coarse = resolved.network.source.regional
        key = (resolved.network.name, mode, resolved.snap, bands, metric, reverse, tolerance_m, transit)
        with self._lock:
            hit = self._iso_cache.get(key)
        if hit is not None:
            return Isochrone(resolved, reverse, hit.bands, hit.townships)
        disk = self._disk_key(resolved, place, key) if isinstance(place, str) else None
        stored = self._disk_get(disk)
        if stored is not None:
            iso = Isochrone(resolved, reverse, stored[0], stored[1])
            with self._lock:
                self._iso_cache[key] = iso
            return iso
        reach = self._reach(resolved, limit_min=bands[-1], reverse=reverse, metric=metric, transit=transit)
        cells = [reach.band(b) for b in bands]
        figs = [
            self.figures(
                c,
                tolerance_m=tolerance_m,
                truncated=self._truncated(resolved, reach, b),
                metres=round(b * 60.0, 6) if metric == "shortest" else None,
                coarse=coarse,
            )
            for c, b in zip(cells, bands, strict=True)
        ]
        table = self.township_table(cells)
        if metric == "shortest":
            table = table.rename(columns={f"within_{b:g}": f"within_{b * 60.0:g}m" for b in bands})
        iso = Isochrone(resolved, reverse, figs, table)
        self._disk_put(disk, (figs, table))
        with self._lock:
            self._iso_cache[key] = iso
            while len(self._iso_cache) > ISOCHRONE_CACHE_SIZE:
                self._iso_cache.pop(next(iter(self._iso_cache)))
        return iso

    # -- the bands of sites, kept on disk --------------------------------------------------

    @cached_property
    def _data_stamp(self) -> bytes:
        """The shipped data's manifest (its files' hashes): bands kept on disk change with it."""
        manifest = self.layers.seeds_dir / "manifest.json"
        return manifest.read_bytes() if manifest.is_file() else b""

    def _disk_key(self, resolved: ResolvedPlace, place: str, key: tuple[object, ...]) -> Path | None:
        """Return the file a site's bands are kept in: named by the graph, the site, the request and the data."""
        net = resolved.network
        if not net.cache_key:
            return None
        site = self.routing.sites.get(place)
        h = hashlib.sha256()
        for part in (repr(key[1:]), site.id, shapely.to_wkb(site.boundary).hex(), _BANDS_CACHE_VERSION):
            h.update(part.encode())
        h.update(self._data_stamp)
        return self.networks.cache_dir / f"{net.cache_key}.bands" / f"{h.hexdigest()[:24]}.pkl"

    @staticmethod
    def _disk_get(path: Path | None) -> tuple[list[BandFigures], pd.DataFrame] | None:
        if path is None or not path.is_file():
            return None
        try:
            with path.open("rb") as fh:
                figs, table = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
            return None
        return figs, table

    @staticmethod
    def _disk_put(path: Path | None, value: tuple[list[BandFigures], pd.DataFrame]) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(path)
        except OSError:
            return  # a read-only cache folder only costs the recomputation

    def _resolve_set(self, places: list[Place], *, mode: str, label: str, limit: int) -> list[ResolvedPlace]:
        if not places:
            raise InvalidInputError(f"`{label}` is empty; give at least one site or point.")
        if len(places) > limit:
            raise InvalidInputError(f"`{label}` has {len(places)} places; at most {limit} are allowed.")
        if mode == "transit":
            resolved = [self._resolve(p, mode=mode, label=f"{label}[{i}]") for i, p in enumerate(places)]
        else:
            resolved = self.routing.resolve_all(places, mode=mode, labels=[f"{label}[{i}]" for i in range(len(places))])
        nets = {r.network.name for r in resolved}
        if len(nets) > 1:
            raise OutsideCoverageError(
                f"`{label}` spans several networks ({', '.join(sorted(nets))}); coverage is computed on one network."
            )
        return resolved

    def _bands(
        self,
        resolved: list[ResolvedPlace],
        minutes: float,
        *,
        reverse: bool = False,
        transit: TransitQuery | None = None,
    ) -> list[Band]:
        return [band for band, _ in self._bands_truncated(resolved, minutes, reverse=reverse, transit=transit)]

    def _bands_truncated(
        self,
        resolved: list[ResolvedPlace],
        minutes: float,
        *,
        reverse: bool = False,
        transit: TransitQuery | None = None,
    ) -> list[tuple[Band, bool]]:
        (m,) = check_bands([minutes], label="minutes", limits=self.routing.limits)
        out = []
        for r in resolved:
            reach = self._reach(r, limit_min=m, reverse=reverse, transit=transit)
            out.append((reach.band(m), self._truncated(r, reach, m)))
        return out

    def site_set(
        self,
        places: list[Place],
        *,
        mode: str = "drive",
        minutes: float = 15.0,
        polygons: bool = True,
        transit: TransitQuery | None = None,
    ) -> SiteSetCoverage:
        """Return each place's coverage, their union, their overlap and the townships' figures.

        With ``polygons=False`` the bands' polygons are left empty (faster, for tables).

        Parameters
        ----------
        places
            Places: ``(lon, lat)`` pairs, site ids or site names.
        mode
            ``"drive"``, ``"walk"`` or ``"transit"``.
        minutes
            Travel time, minutes.
        polygons
            Trace the union's and overlap's polygons (False: figures only).
        transit
            For ``mode="transit"``: the departure window and percentile (None: 08:00-09:00,
            the median).
        """
        resolved = self._resolve_set(places, mode=mode, label="sites", limit=self.routing.limits.max_sites)
        transit = (transit or TransitQuery()) if mode == "transit" else None
        found = self._bands_truncated(resolved, minutes, transit=transit)
        bands = [b for b, _ in found]
        cut = [t for _, t in found]
        union, overlap = cov.union(bands), cov.overlap(bands)
        table = self.township_table([union])
        table = table.rename(columns={f"within_{union.minutes:g}": "covered"})
        table["uncovered"] = table["population"] - table["covered"]
        table["covered_share"] = np.where(table["population"] > 0, table["covered"] / table["population"], 0.0)
        table["assessed"] = self._assessed(resolved[0].network)
        coarse = resolved[0].network.source.regional
        return SiteSetCoverage(
            resolved,
            float(minutes),
            [self.figures(b, polygon=polygons, truncated=t, coarse=coarse) for b, t in found],
            self.figures(union, polygon=polygons, truncated=any(cut), coarse=coarse),
            self.figures(overlap, polygon=polygons, truncated=any(cut), coarse=coarse),
            table,
            resolved[0].network,
        )

    def _assessed(self, net: RoadNetwork) -> NDArray[np.bool_]:
        """Return which townships lie mostly (>= 50 % of their area) inside the network's extent (cached)."""
        key = (net.name, net.mode)
        if key not in self._assessed_cache:
            t = self.townships
            areas = shapely.area(t.geometry.to_numpy())
            inter = shapely.area(shapely.intersection(t.geometry.to_numpy(), net.extent))
            self._assessed_cache[key] = np.asarray(inter >= 0.5 * np.maximum(areas, 1e-12))
        return self._assessed_cache[key].copy()

    def choose(
        self, candidates: list[Place], *, mode: str = "drive", minutes: float = 15.0, k: int = 1
    ) -> tuple[list[ResolvedPlace], cov.DemandUnits, cov.Choice, cov.Choice]:
        """Return (candidates, demand, the best ``k`` for people covered, the fewest covering all).

        Parameters
        ----------
        candidates
            The candidate places.
        mode
            ``"drive"`` or ``"walk"``.
        minutes
            Travel time, minutes.
        k
            How many candidates to choose for the most people covered.
        """
        resolved = self._resolve_set(
            candidates, mode=mode, label="candidates", limit=self.routing.limits.max_candidates
        )
        if not 1 <= k <= len(resolved):
            raise InvalidInputError(f"`k` must be between 1 and the number of candidates ({len(resolved)}); got {k}.")
        bands = self._bands(resolved, minutes, transit=TransitQuery() if mode == "transit" else None)
        units = cov.demand_units(bands, self.people)
        return resolved, units, cov.choose_max_cover(units, k=k), cov.choose_min_sites(units)

    def township_outlines(self, tolerance_deg: float = 0.0005) -> dict[int, shapely.Geometry]:
        """Return township outlines for display, simplified (about 50 m), by township id.

        Parameters
        ----------
        tolerance_deg
            Simplification tolerance, degrees.
        """
        if self._outlines is None:
            geoms = shapely.simplify(self.townships.geometry.to_numpy(), tolerance_deg, preserve_topology=True)
            self._outlines = dict(zip(self.townships["township_id"].astype(int), geoms, strict=True))
        return self._outlines

    def surface(
        self, places: list[Place], *, mode: str = "drive", limit_min: float = 180.0
    ) -> tuple[NDArray[np.float32], Affine, list[ResolvedPlace]]:
        """Return minutes to the nearest place per 100 m cell (NaN where no road is reached) and its transform.

        Parameters
        ----------
        places
            The sites or points (ids, names or ``(lon, lat)``).
        mode
            ``"drive"`` or ``"walk"``.
        limit_min
            The largest travel time of interest, minutes.
        """
        resolved = self._resolve_set(places, mode=mode, label="sites", limit=self.routing.limits.max_sites)
        (limit,) = check_bands([limit_min], label="limit_min", limits=self.routing.limits)
        index = self.index(resolved[0].network)
        reach = index.reach([r.snap for r in resolved], limit_min=limit, reverse=True)
        grid = index.grid
        full = reach.full()
        kk = grid.k
        coarse = full.reshape(grid.height // kk, kk, grid.width // kk, kk).min(axis=(1, 3))
        coarse[~np.isfinite(coarse)] = np.nan
        _, tf = self._population
        out_tf = tf @ tf.translation(grid.coarse_offset[1], grid.coarse_offset[0])
        return coarse.astype(np.float32), out_tf, resolved

    def surface_tif(self, places: list[Place], *, mode: str = "drive", limit_min: float = 180.0) -> bytes:
        """Return `surface` as a GeoTIFF (float32 minutes, nodata -9999, UTM 50N) with its provenance in tags.

        Parameters
        ----------
        places
            The sites or points (ids, names or ``(lon, lat)``).
        mode
            ``"drive"`` or ``"walk"``.
        limit_min
            The largest travel time of interest, minutes.
        """
        arr, tf, resolved = self.surface(places, mode=mode, limit_min=limit_min)
        data = np.where(np.isfinite(arr), arr, SURFACE_NODATA).astype(np.float32)
        profile = {
            "driver": "GTiff",
            "width": data.shape[1],
            "height": data.shape[0],
            "count": 1,
            "dtype": "float32",
            "crs": "EPSG:32650",
            "transform": tf,
            "nodata": SURFACE_NODATA,
            "compress": "deflate",
        }
        with rasterio.MemoryFile() as mem:
            with mem.open(**profile) as dst:
                dst.write(data, 1)
                dst.set_band_description(1, f"{mode} minutes to the nearest site")
                dst.update_tags(
                    UNITS="minutes",
                    SITES="; ".join(r.label for r in resolved),
                    MODE=mode,
                    NETWORK=resolved[0].network.name,
                    LIMIT_MIN=f"{limit_min:g}",
                    ATTRIBUTION=OSM_CREDIT,
                    SOURCE="venue-planner: fastest travel time on the road network, the best 25 m cell of each 100 m "
                    "cell; nodata where no road is reached",
                )
            return bytes(mem.read())
