"""Routing as a service: resolve places, pick the network, apply closures, route.

Places are ``(lon, lat)`` pairs, site ids or site names. A site is reached at its access
point (see `layers.networks.site_access`); a coordinate is snapped to the nearest edge
of the network that covers it, and farther than ``max_snap_m`` is an error.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import itertools
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.ops

from geo.crs import BEIJING_BBOX, lonlat_to_utm, utm_to_lonlat
from geo.engine_arrays import ARRAYS_VERSION, engine_arrays
from geo.errors import InvalidInputError, NoRouteError, OutsideCoverageError
from geo.footprints import parse_footprint
from geo.network import CONNECTOR_CLASS, MODES, REGIONAL_CLASS, WALK_SPEED_KPH, check_mode
from geo.regional import Calibration
from geo.routing import Route, RoutingEngine, build_engine, order_stops, route_overlap
from layers.diskcache import load_arrays, remove_superseded, save_arrays
from layers.networks import REGIONAL_CALIBRATION_FILE, NetworkStore, RoadNetwork, site_access
from layers.regional import POSITION_PRECISION_M, precision_note, read_calibration

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from geo.network import Mode
    from geo.snapping import Snap
    from layers.sites import Site, SiteCatalog

__all__ = [
    "ACCESS_WARN_M",
    "BEIJING_BBOX",
    "SPARSE_WALK_KM_PER_KM2",
    "AccessLeg",
    "Closures",
    "Itinerary",
    "NetworkAccess",
    "NetworkLeg",
    "Place",
    "ResolvedPlace",
    "RoutingService",
    "WalkDensity",
]

MAX_STOPS = 25
MAX_OPTIMISED_STOPS = 10
MAX_MATRIX_CELLS = 10_000
MAX_AREA_VERTICES = 2_000  # of one closure area
ACCESS_WARN_M = 100.0  # an access leg longer than this gets a warning
# Walkable network inside a site below this (km of street per km², each street counted
# once) means walking inside it is not modelled: central Beijing's street blocks have
# 8-20 km/km², the Summer Palace in the 2013 roads has almost none.
SPARSE_WALK_KM_PER_KM2 = 2.0
WALK_INSET_M = 50.0  # ways are counted this far inside a site's boundary
SPARSE_WALK_MIN_KM2 = 0.05  # smaller sites are crossed in a minute either way
FOOTPATH_HINT = (
    "import a current OpenStreetMap extract that has the footpaths (`venue-planner networks import FILE.osm.pbf`, "
    "or `venue-planner networks fetch --site ID` where the internet is reachable)"
)


# A site on the regional network may lie this far from its access chord (positions are
# rounded to about 100 m and chords are straight lines between them).
REGIONAL_SITE_ACCESS_M = 1500.0

Place = tuple[float, float] | str


@dataclass(frozen=True)
class NetworkLeg:
    """A stretch of a route on one network: the detailed roads, or the regional skeleton."""

    network: str
    regional: bool
    length_m: float
    travel_time_s: float
    precision: str | None  # for the regional skeleton: how far its figures can be trusted


@dataclass(frozen=True)
class ResolvedPlace:
    """A place as asked for, and where it meets the network."""

    label: str
    site_id: str | None
    lon: float
    lat: float
    network: RoadNetwork
    snap: Snap


@dataclass(frozen=True)
class AccessLeg:
    """The straight stretch between a place and the road where it meets the network.

    Attributes
    ----------
    end
        ``"origin"`` or ``"destination"`` (or ``"stops[i]"``).
    distance_m
        Its length: from the point to the road, or from a site's boundary to the road.
    travel_time_s
        Walking time at `geo.network.WALK_SPEED_KPH` for walk routes (counted in the
        route's totals); None for driving (no road is known there).
    coords
        The stretch as two lon/lat points in the direction of travel (equal when 0 m).
    """

    end: str
    distance_m: float
    travel_time_s: float | None
    coords: tuple[tuple[float, float], tuple[float, float]]

    def warning(self, mode: str) -> str | None:
        """Return the warning for a leg longer than `ACCESS_WARN_M`, else None."""
        if self.distance_m <= ACCESS_WARN_M:
            return None
        how = (
            f"walked in a straight line at {WALK_SPEED_KPH:g} km/h and counted in the totals"
            if self.travel_time_s is not None
            else "not counted in the totals (no road of the network is known there)"
        )
        return f"the {self.end} is {self.distance_m:.0f} m from the nearest road of the {mode} network; that stretch is {how}."


@dataclass(frozen=True)
class WalkDensity:
    """How much walkable network lies inside a site's boundary."""

    site_id: str
    name: str
    area_km2: float  # the whole site
    inner_km2: float  # the site less a 50 m margin inside its boundary (`WALK_INSET_M`)
    walkable_km: float  # inside that margin, each street once whatever its directions

    @property
    def km_per_km2(self) -> float:
        """Walkable street length per km² of the site (inside the margin)."""
        return self.walkable_km / self.inner_km2 if self.inner_km2 > 0 else 0.0

    @property
    def sparse(self) -> bool:
        """Whether walking inside the site is in effect not modelled."""
        return self.inner_km2 >= SPARSE_WALK_MIN_KM2 and self.km_per_km2 < SPARSE_WALK_KM_PER_KM2

    def note(self, network: str) -> str:
        """Return the warning for walking in a sparse site."""
        return (
            f"walking inside {self.name} ({self.area_km2:.1f} km²) is not modelled: network {network!r} has "
            f"{self.km_per_km2:.1f} km of walkable way per km² there (its footpaths are missing; the shipped 2013 "
            f"roads have none), so walks follow the streets around it. For walking inside it, {FOOTPATH_HINT}."
        )


@dataclass(frozen=True)
class NetworkAccess:
    """How a site meets the preferred network of one mode: its access point, or why there is none."""

    mode: str
    network: RoadNetwork | None
    snap: Snap | None
    message: str | None = None  # why no network covers it, and what to do
    walk: WalkDensity | None = None  # walk mode: the walkable way inside the site


@dataclass(frozen=True)
class Itinerary:
    """A trip through stops: the resolved stops, the visiting order, one route per leg."""

    places: list[ResolvedPlace]  # in the given order
    order: list[int]  # indices into ``places``, first and last fixed
    legs: list[Route]
    network: RoadNetwork
    given_order_cost: float | None  # the cost of the given order, when the order was optimised


@dataclass(frozen=True)
class PartialMatrix:
    """A cost matrix where uncovered places are NaN rows or columns, with why."""

    costs: NDArray[np.float64]
    origins: list[ResolvedPlace | None]
    destinations: list[ResolvedPlace | None]
    network: RoadNetwork
    unresolved: list[tuple[str, int, str]]  # (origins or destinations, index, reason)


@dataclass(frozen=True)
class Closures:
    """Streets (by name) and areas (WGS84 polygons) that routes must not use."""

    streets: tuple[str, ...] = ()
    areas: tuple[shapely.Geometry, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.streets or self.areas)

    def describe(self) -> list[str]:
        """Return a label per closure, for messages."""
        return [f"street {s!r}" for s in self.streets] + [f"area #{i + 1}" for i in range(len(self.areas))]

    def single(self, i: int) -> Closures:
        """Return the i-th closure alone (streets first, then areas)."""
        if i < len(self.streets):
            return Closures(streets=(self.streets[i],))
        return Closures(areas=(self.areas[i - len(self.streets)],))


def check_lonlat(lon: float, lat: float, *, label: str) -> None:
    """Raise a clear error for coordinates outside Beijing or given as lat/lon."""
    minx, miny, maxx, maxy = BEIJING_BBOX
    if minx <= lon <= maxx and miny <= lat <= maxy:
        return
    if minx <= lat <= maxx and miny <= lon <= maxy:
        raise InvalidInputError(
            f"`{label}` ({lon}, {lat}) looks like latitude, longitude; give longitude first: ({lat}, {lon})."
        )
    raise OutsideCoverageError(
        f"`{label}` ({lon}, {lat}) lies outside Beijing ({minx}–{maxx} E, {miny}–{maxy} N), which every network "
        "of the planner is limited to; give WGS84 longitude, latitude in Beijing."
    )


class RoutingService:
    """Routes, alternatives, matrices and itineraries over the loaded networks.

    Parameters
    ----------
    networks
        The network store.
    sites
        The site catalogue, for places given by id or name.
    """

    def __init__(self, networks: NetworkStore, sites: SiteCatalog, *, site_access_max_m: float = 300.0) -> None:
        self.networks = networks
        self.sites = sites
        self.site_access_max_m = site_access_max_m
        self._engines: dict[tuple[str, str], RoutingEngine] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._site_snaps: dict[tuple[str, str, str, float], Snap] = {}
        self._density: dict[tuple[str, str, str], WalkDensity] = {}
        self._sparse: dict[tuple[str, str, str], list[tuple[WalkDensity, shapely.Geometry]]] = {}
        self._calibrations: dict[str, Calibration] = {}

    def engine(self, net: RoadNetwork) -> RoutingEngine:
        """Return the routing engine of a network, built on first use."""
        key = (net.name, net.mode)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._engines:
                cache = (
                    self.networks.cache_dir / f"{net.cache_key}.engine-rk{importlib.metadata.version('routingkit-cch')}"
                    if net.cache_key
                    else None
                )
                arrays = load_arrays(cache, version=ARRAYS_VERSION) if cache is not None else None
                if arrays is None:
                    arrays = engine_arrays(net.graph)
                    if cache is not None:
                        save_arrays(cache, arrays, version=ARRAYS_VERSION)
                        if cache.exists():  # arrays of an older binding go
                            remove_superseded(cache, f"{net.cache_key}.engine-rk*")
                self._engines[key] = build_engine(net.graph, arrays=arrays)
            return self._engines[key]

    def warm(self, mode: str) -> None:
        """Build the engines and edge indexes of every network of ``mode`` now."""
        for net in self.networks.all(mode):
            self.engine(net)
            net.edge_index  # noqa: B018 - built on first access; snapping needs it

    # -- what the network can and cannot say ------------------------------------------------

    def calibration(self, net: RoadNetwork) -> Calibration | None:
        """Return the speed calibration of a regional network (None for a detailed one)."""
        if not net.source.regional:
            return None
        with self._lock:
            hit = self._calibrations.get(net.name)
        if hit is None:
            hit = read_calibration(net.source.path.with_name(REGIONAL_CALIBRATION_FILE))
            with self._lock:
                self._calibrations[net.name] = hit
        return hit

    def precision_warnings(self, net: RoadNetwork, used_regional: bool = True) -> list[str]:
        """Return the precision note of the regional skeleton when an answer used it."""
        cal = self.calibration(net)
        return [precision_note(cal)] if cal is not None and used_regional else []

    def network_legs(self, route: Route, net: RoadNetwork) -> list[NetworkLeg]:
        """Return a route's stretches per network, in order (the detailed roads, the regional skeleton)."""
        cal = self.calibration(net)
        detailed = net.name if cal is None else self.networks.source_of_regional(net).name
        legs: list[NetworkLeg] = []
        for st in route.streets:
            regional = cal is not None and st.road_class in (REGIONAL_CLASS, CONNECTOR_CLASS)
            name = "regional skeleton (major roads)" if regional else detailed
            if legs and legs[-1].regional == regional:
                last = legs[-1]
                legs[-1] = NetworkLeg(
                    name, regional, last.length_m + st.length_m, last.travel_time_s + st.travel_time_s, last.precision
                )
                continue
            precision = None
            if regional and cal is not None:
                med, p90 = cal.time_error()
                precision = (
                    f"major roads only; positions ±{POSITION_PRECISION_M:.0f} m; travel time error median {med:.0%}, "
                    f"p90 {p90:.0%} (held-out trips)"
                )
            legs.append(NetworkLeg(name, regional, st.length_m, st.travel_time_s, precision))
        return legs

    def access_leg(self, place: ResolvedPlace, *, end: str, mode: str) -> AccessLeg:
        """Return the straight stretch between a place and its road (towards the road for an origin)."""
        snap = place.snap
        road = (snap.lon, snap.lat)
        if place.site_id is not None:
            boundary = self.sites.get(place.site_id).boundary_utm()
            x, y = lonlat_to_utm([snap.lon], [snap.lat], name=end)
            near = shapely.ops.nearest_points(boundary, shapely.Point(float(x[0]), float(y[0])))[0]
            blon, blat = utm_to_lonlat([near.x], [near.y])
            at = (float(blon[0]), float(blat[0]))
        else:
            at = (place.lon, place.lat)
        walk = check_mode(mode) == "walk"
        seconds = snap.distance_m / (WALK_SPEED_KPH / 3.6) if walk else None
        coords = (at, road) if end != "destination" else (road, at)
        return AccessLeg(end, snap.distance_m, seconds, coords)

    def route_notes(
        self,
        route: Route,
        a: ResolvedPlace,
        b: ResolvedPlace,
        *,
        mode: str,
        by_network: list[NetworkLeg] | None = None,
    ) -> tuple[tuple[AccessLeg, AccessLeg], list[str]]:
        """Return a route's access legs and warnings (long access legs, walks through sites without paths).

        ``by_network`` is the route's `network_legs`, when the caller has them already.
        """
        legs = (self.access_leg(a, end="origin", mode=mode), self.access_leg(b, end="destination", mode=mode))
        warnings = [w for leg in legs if (w := leg.warning(mode)) is not None]
        lines = [route.coords, *(np.asarray(leg.coords) for leg in legs)]
        if by_network is None:
            by_network = self.network_legs(route, a.network)
        regional = any(leg.regional for leg in by_network)
        return legs, warnings + self.walk_warnings(a.network, lines) + self.precision_warnings(a.network, regional)

    def walk_density(self, net: RoadNetwork, site_id: str) -> WalkDensity:
        """Return the walkable network length inside a site's boundary (cached per network)."""
        key = (net.name, net.mode, site_id)
        with self._lock:
            hit = self._density.get(key)
        if hit is not None:
            return hit
        site = self.sites.get(site_id)
        # The streets along a road-bounded site's edge are its boundary, not a way inside it.
        boundary = site.boundary_utm().buffer(-WALK_INSET_M)
        idx = net.edge_index
        cand = idx.tree.query(boundary, predicate="intersects")
        seen: set[tuple[int, int]] = set()
        total = 0.0
        for i in cand.tolist():
            u, v, _ = (int(t) for t in idx.edges[i])
            pair = (min(u, v), max(u, v))
            if pair in seen:
                continue
            seen.add(pair)
            total += float(shapely.intersection(idx.geoms[i], boundary).length)
        area = float(site.boundary_utm().area) / 1e6
        dens = WalkDensity(site.id, f"{site.name_en} ({site.id})", area, boundary.area / 1e6, total / 1000)
        with self._lock:
            self._density[key] = dens
        return dens

    def walk_warnings(
        self,
        net: RoadNetwork,
        lines: list[NDArray[np.float64]] | None = None,
        areas: list[shapely.Geometry] | None = None,
    ) -> list[str]:
        """Return a warning for each sparse site (no footpaths) that a walk starts, ends or passes in.

        ``lines`` are lon/lat coordinate arrays (routes and their access legs); ``areas``
        are WGS84 polygons (isochrone bands).
        """
        if net.mode != "walk" or not (lines or areas):
            return []
        geoms = []
        for c in lines or []:
            x, y = lonlat_to_utm(c[:, 0], c[:, 1], name="route")
            geoms.append(shapely.LineString(np.column_stack([x, y])) if len(c) > 1 else shapely.Point(x[0], y[0]))
        for a in areas or []:
            xy = shapely.get_coordinates(a)
            if len(xy):
                x, y = lonlat_to_utm(xy[:, 0], xy[:, 1], name="band")
                geoms.append(shapely.set_coordinates(a, np.column_stack([x, y])))
        shape = shapely.union_all(geoms)
        return [dens.note(net.name) for dens, boundary in self.sparse_sites(net) if shape.intersects(boundary)]

    def sparse_sites(self, net: RoadNetwork) -> list[tuple[WalkDensity, shapely.Geometry]]:
        """Return the sites of a walk network with almost no walkable way inside, with their UTM boundaries."""
        key = (net.name, net.mode, "")
        with self._lock:
            hit = self._sparse.get(key)
        if hit is not None:
            return hit
        out = []
        for sid in self.sites.ids():
            site = self.sites.get(sid)
            if net.covers(site.lon, site.lat):
                dens = self.walk_density(net, sid)
                if dens.sparse:
                    out.append((dens, site.boundary_utm()))
        with self._lock:
            self._sparse[key] = out
        return out

    # -- places ---------------------------------------------------------------------

    def _where(self, place: Place) -> tuple[float, float]:
        """Return the point that decides which network a place is on (a site's centre)."""
        if isinstance(place, str):
            site = self.sites.get(place)
            return site.lon, site.lat
        return float(place[0]), float(place[1])

    def site_networks(self, site_id: str) -> list[NetworkAccess]:
        """Return, per mode, the network a site is reached on and its access point (the one routes use), or why none."""
        site = self.sites.get(site_id)
        label = f"site {site.id!r}"
        out = []
        for mode in MODES:
            try:
                net, snap = self._site_access(site, mode, label)
            except OutsideCoverageError as exc:
                out.append(NetworkAccess(mode, None, None, str(exc)))
                continue
            walk = self.walk_density(net, site.id) if mode == "walk" else None
            out.append(NetworkAccess(mode, net, snap, None, walk))
        return out

    def access_limit_m(self, net: RoadNetwork) -> float:
        """Return how far a site's boundary may lie from its access road on ``net``."""
        return max(self.site_access_max_m, REGIONAL_SITE_ACCESS_M) if net.source.regional else self.site_access_max_m

    def covering_all(self, places: list[Place], *, mode: str) -> RoadNetwork | None:
        """Return the preferred network that covers every place (None if none does, or a place is not finite)."""
        points = []
        for p in places:
            lon, lat = self._where(p)
            if not (math.isfinite(lon) and math.isfinite(lat)):
                return None
            points.append((lon, lat))
        if not points:
            return None
        for net in self.networks.covering(*points[0], mode=check_mode(mode)):
            if all(net.covers(lon, lat) for lon, lat in points[1:]):
                return net
        return None

    def resolve_all(
        self, places: list[Place], *, mode: str, labels: list[str], max_snap_m: float = 500.0
    ) -> list[ResolvedPlace]:
        """Resolve places that must share one network: the preferred network covering them all.

        An imported extract is used where it covers every place; otherwise the shipped
        network, when it covers them. Places no single network covers resolve each on its
        own (and the caller reports that they lie in different networks).
        """
        m = check_mode(mode)
        net = self.covering_all(places, mode=m)
        if net is not None:
            return [
                self.resolve(p, mode=m, label=lab, max_snap_m=max_snap_m, network=net)
                for p, lab in zip(places, labels, strict=True)
            ]
        return [
            self.resolve(p, mode=m, label=lab, max_snap_m=max_snap_m) for p, lab in zip(places, labels, strict=True)
        ]

    def _site_access(
        self, site: Site, mode: Mode, label: str, network: RoadNetwork | None = None
    ) -> tuple[RoadNetwork, Snap]:
        """Return the network (the preferred one, or ``network``) a site is reached on, and its access point.

        Kept per network, like its engine (a network's name names one graph while the service runs).
        """
        net = network or self.networks.locate(site.lon, site.lat, mode=mode, label=label)
        limit = self.access_limit_m(net)
        key = (net.name, net.mode, site.id, limit)
        with self._lock:
            snap = self._site_snaps.get(key)
        if snap is None:
            net, snap = site_access(
                self.networks,
                site.lon,
                site.lat,
                site.boundary_utm(),
                mode=mode,
                label=label,
                max_distance_m=limit,
                network=net,
            )
            with self._lock:
                self._site_snaps[(net.name, net.mode, site.id, limit)] = snap
        return net, snap

    def resolve(
        self, place: Place, *, mode: str, label: str, max_snap_m: float = 500.0, network: RoadNetwork | None = None
    ) -> ResolvedPlace:
        """Return where a place meets the ``mode`` network (the preferred one covering it, or ``network``)."""
        m = check_mode(mode)
        if isinstance(place, str):
            site = self.sites.get(place)
            net, snap = self._site_access(site, m, f"{label} site {site.id!r}", network)
            return ResolvedPlace(f"{site.name_en} ({site.id})", site.id, site.lon, site.lat, net, snap)
        lon, lat = float(place[0]), float(place[1])
        if not (np.isfinite(lon) and np.isfinite(lat)):
            raise InvalidInputError(f"`{label}` has non-finite coordinates ({lon}, {lat}).")
        check_lonlat(lon, lat, label=label)
        net = network or self.networks.locate(lon, lat, mode=m, label=f"`{label}`")
        snap = net.edge_index.snap(lon, lat, max_distance_m=max_snap_m, label=f"`{label}`")
        return ResolvedPlace(f"{lon:.6f},{lat:.6f}", None, lon, lat, net, snap)

    def _same_network(self, places: list[ResolvedPlace]) -> RoadNetwork:
        net = places[0].network
        for p in places[1:]:
            if p.network.name != net.name:
                raise OutsideCoverageError(
                    f"{places[0].label} lies in network {net.name!r} and {p.label} in {p.network.name!r}; "
                    "no route can join two networks. Import an extract that covers both."
                )
        return net

    # -- closures -------------------------------------------------------------------

    def closed_edges(self, net: RoadNetwork, closures: Closures) -> set[tuple[int, int]]:
        """Return the graph node pairs (u, v) that the closures shut."""
        out: set[tuple[int, int]] = set()
        g = net.graph
        if closures.streets:
            names: dict[str, list[tuple[int, int]]] = {}
            for u, v, d in g.edges(data=True):
                nm = d.get("name")
                for n in nm if isinstance(nm, list) else [nm]:
                    if isinstance(n, str):
                        names.setdefault(n, []).append((u, v))
            for street in closures.streets:
                if street not in names:
                    close = difflib.get_close_matches(street, list(names), n=3)
                    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                    raise InvalidInputError(f"`closures.streets`: no street named {street!r} in {net.name}.{hint}")
                out.update(names[street])
        for i, area in enumerate(closures.areas):
            coords = shapely.get_coordinates(area)
            x, y = lonlat_to_utm(coords[:, 0], coords[:, 1], name=f"closures.areas[{i}]")
            area_utm = shapely.set_coordinates(area, np.column_stack([x, y]))
            hits = net.edge_index.tree.query(area_utm, predicate="intersects")
            out.update((int(net.edge_index.edges[h][0]), int(net.edge_index.edges[h][1])) for h in hits)
        return out

    def _blocked(
        self, engine: RoutingEngine, net: RoadNetwork, closures: Closures, metric: str
    ) -> NDArray[np.bool_] | None:
        if not closures:
            return None
        return engine.edge_mask(self.closed_edges(net, closures), metric=metric)

    def _check_endpoints_open(self, net: RoadNetwork, closures: Closures, places: list[ResolvedPlace]) -> None:
        if not closures:
            return
        for i in range(len(closures.describe())):
            shut = self.closed_edges(net, closures.single(i))
            for p in places:
                if (p.snap.u, p.snap.v) in shut:
                    raise InvalidInputError(
                        f"{p.label} lies on a road shut by {closures.describe()[i]}; move it outside the closure."
                    )

    def _explain(
        self,
        engine: RoutingEngine,
        net: RoadNetwork,
        a: ResolvedPlace,
        b: ResolvedPlace,
        closures: Closures,
        metric: str,
    ) -> NoRouteError:
        try:
            engine.route(a.snap, b.snap, metric=metric)
        except NoRouteError as exc:
            return exc
        culprits = []
        for i, label in enumerate(closures.describe()):
            try:
                engine.route(
                    a.snap, b.snap, metric=metric, blocked=self._blocked(engine, net, closures.single(i), metric)
                )
            except NoRouteError:
                culprits.append(label)
        which = ", ".join(culprits) if culprits else "the closures together (" + ", ".join(closures.describe()) + ")"
        return NoRouteError(
            f"the closures cut {a.label} off from {b.label}: {which} leaves no {metric} route between them; "
            "lift or shrink that closure."
        )

    # -- queries ---------------------------------------------------------------------

    def routes(
        self,
        origin: Place,
        destination: Place,
        *,
        mode: str = "drive",
        metric: str = "fastest",
        alternatives: int = 1,
        closures: Closures | None = None,
        max_snap_m: float = 500.0,
    ) -> tuple[list[Route], ResolvedPlace, ResolvedPlace]:
        """Return the best route (and up to ``alternatives - 1`` others) between two places."""
        if not 1 <= alternatives <= 5:
            raise InvalidInputError(f"`alternatives` must be 1 to 5; got {alternatives}.")
        closures = closures or Closures()
        a, b = self.resolve_all(
            [origin, destination], mode=mode, labels=["origin", "destination"], max_snap_m=max_snap_m
        )
        if (a.site_id is not None and a.site_id == b.site_id) or (a.snap == b.snap):
            raise InvalidInputError(f"`origin` and `destination` are the same place ({a.label}); give two places.")
        net = self._same_network([a, b])
        engine = self.engine(net)
        self._check_endpoints_open(net, closures, [a, b])
        blocked = self._blocked(engine, net, closures, metric)
        try:
            if alternatives == 1:
                found = [engine.route(a.snap, b.snap, metric=metric, blocked=blocked)]
            else:
                found = engine.alternatives(a.snap, b.snap, metric=metric, k=alternatives, blocked=blocked)
        except NoRouteError as exc:
            if closures:
                raise self._explain(engine, net, a, b, closures, metric) from exc
            raise
        return found, a, b

    def partial_matrix(
        self,
        origins: list[Place],
        destinations: list[Place],
        *,
        mode: str = "drive",
        metric: str = "fastest",
        max_snap_m: float = 500.0,
    ) -> PartialMatrix:
        """Return the cost matrix, leaving out (NaN, with the reason) the places no loaded network covers.

        Places of the network most of them lie in are computed; a place outside every
        network, or in another network, gets NaN in its row or column and its reason in
        ``unresolved``. Unknown sites and malformed places are still errors; so is a
        matrix where no place can be resolved.
        """
        _check_matrix_size(origins, destinations)
        unresolved: list[tuple[str, int, str]] = []
        shared = self.covering_all([*origins, *destinations], mode=mode)

        def resolve(side: str, i: int, p: Place) -> ResolvedPlace | None:
            try:
                return self.resolve(p, mode=mode, label=f"{side}[{i}]", max_snap_m=max_snap_m, network=shared)
            except OutsideCoverageError as exc:
                unresolved.append((side, i, str(exc)))
                return None

        ro = [resolve("origins", i, p) for i, p in enumerate(origins)]
        rd = [resolve("destinations", i, p) for i, p in enumerate(destinations)]
        found = [p for p in ro + rd if p is not None]
        if not found:
            raise OutsideCoverageError(
                "no place of the matrix lies on a loaded road network: " + " ".join(m for _, _, m in unresolved[:3])
            )
        names = [p.network.name for p in found]
        net = next(p.network for p in found if p.network.name == max(set(names), key=names.count))
        for side, places in (("origins", ro), ("destinations", rd)):
            for i, p in enumerate(places):
                if p is not None and p.network.name != net.name:
                    unresolved.append(
                        (side, i, f"{p.label} lies in network {p.network.name!r}, the others in {net.name!r}; "
                         "no route joins two networks.")
                    )  # fmt: skip
                    places[i] = None
        costs = np.full((len(ro), len(rd)), np.nan)
        oi = [i for i, p in enumerate(ro) if p is not None]
        di = [j for j, p in enumerate(rd) if p is not None]
        if oi and di:
            ok_o = [p for p in ro if p is not None]
            ok_d = [p for p in rd if p is not None]
            costs[np.ix_(oi, di)] = self._with_access(
                self.engine(net).matrix([p.snap for p in ok_o], [p.snap for p in ok_d], metric=metric),
                ok_o,
                ok_d,
                mode=mode,
                metric=metric,
            )
        return PartialMatrix(costs, ro, rd, net, sorted(unresolved, key=lambda u: (u[0] != "origins", u[1])))

    def matrix(
        self,
        origins: list[Place],
        destinations: list[Place],
        *,
        mode: str = "drive",
        metric: str = "fastest",
        max_snap_m: float = 500.0,
    ) -> tuple[NDArray[np.float64], list[ResolvedPlace], list[ResolvedPlace]]:
        """Return the origins x destinations cost matrix and the resolved places (every place must be covered)."""
        _check_matrix_size(origins, destinations)
        both = self.resolve_all(
            [*origins, *destinations],
            mode=mode,
            labels=[f"origins[{i}]" for i in range(len(origins))]
            + [f"destinations[{i}]" for i in range(len(destinations))],
            max_snap_m=max_snap_m,
        )
        ro, rd = both[: len(origins)], both[len(origins) :]
        net = self._same_network(ro + rd)
        costs = self.engine(net).matrix([p.snap for p in ro], [p.snap for p in rd], metric=metric)
        return self._with_access(costs, ro, rd, mode=mode, metric=metric), ro, rd

    @staticmethod
    def _with_access(
        costs: NDArray[np.float64], ro: list[ResolvedPlace], rd: list[ResolvedPlace], *, mode: str, metric: str
    ) -> NDArray[np.float64]:
        """Add the walked access legs to a walking matrix (seconds or metres); driving ones are left as they are."""
        if mode != "walk":
            return costs
        per = 1.0 / (WALK_SPEED_KPH / 3.6) if metric == "fastest" else 1.0
        o = np.array([p.snap.distance_m for p in ro]) * per
        d = np.array([p.snap.distance_m for p in rd]) * per
        return costs + o[:, None] + d[None, :]

    def itinerary(
        self,
        stops: list[Place],
        *,
        mode: str = "drive",
        metric: str = "fastest",
        optimize: bool = False,
        closures: Closures | None = None,
        max_snap_m: float = 500.0,
    ) -> Itinerary:
        """Return the legs of a trip through ``stops``, optionally in the best order.

        With ``optimize``, the intermediate stops (at most 10) are reordered to minimise
        the total cost; the first and last stops stay fixed.
        """
        if len(stops) < 2:
            raise InvalidInputError(f"`stops` must hold at least 2 places; got {len(stops)}.")
        if len(stops) > MAX_STOPS:
            raise InvalidInputError(f"`stops` holds {len(stops)} places; the limit is {MAX_STOPS}.")
        if optimize and len(stops) - 2 > MAX_OPTIMISED_STOPS:
            raise InvalidInputError(
                f"`optimize` reorders at most {MAX_OPTIMISED_STOPS} intermediate stops; got {len(stops) - 2}."
            )
        closures = closures or Closures()
        rs = self.resolve_all(
            stops, mode=mode, labels=[f"stops[{i}]" for i in range(len(stops))], max_snap_m=max_snap_m
        )
        net = self._same_network(rs)
        engine = self.engine(net)
        self._check_endpoints_open(net, closures, rs)
        blocked = self._blocked(engine, net, closures, metric)
        snaps = [r.snap for r in rs]
        given = list(range(len(rs)))
        order = given
        given_cost: float | None = None
        if optimize:
            if blocked is None:
                costs = engine.matrix(snaps, snaps, metric=metric)
            else:
                costs = np.array(
                    [
                        [0.0 if i == j else self._leg_cost(engine, snaps[i], snaps[j], metric, blocked) for j in given]
                        for i in given
                    ]
                )
            order = order_stops(costs)
            given_cost = float(sum(costs[i, i + 1] for i in range(len(rs) - 1)))
        legs = []
        for i, j in itertools.pairwise(order):
            if rs[i].snap == rs[j].snap:
                raise InvalidInputError(f"{rs[i].label} and {rs[j].label} are the same place; remove one.")
            try:
                legs.append(engine.route(snaps[i], snaps[j], metric=metric, blocked=blocked))
            except NoRouteError as exc:
                if closures:
                    raise self._explain(engine, net, rs[i], rs[j], closures, metric) from exc
                raise
        return Itinerary(rs, order, legs, net, given_cost)

    @staticmethod
    def _leg_cost(engine: RoutingEngine, a: Snap, b: Snap, metric: str, blocked: NDArray[np.bool_]) -> float:
        try:
            return engine.route(a, b, metric=metric, blocked=blocked).cost()
        except NoRouteError:
            return float("inf")


def overlap_with_best(routes: list[Route]) -> list[float]:
    """Return each route's overlap (share of length) with the first."""
    return [1.0 if i == 0 else route_overlap(r, routes[0]) for i, r in enumerate(routes)]


def _check_matrix_size(origins: list[Place], destinations: list[Place]) -> None:
    if not origins or not destinations:
        raise InvalidInputError("`origins` and `destinations` must each hold at least one place.")
    cells = len(origins) * len(destinations)
    if cells > MAX_MATRIX_CELLS:
        raise InvalidInputError(
            f"the matrix has {len(origins)} x {len(destinations)} = {cells} cells; the limit is {MAX_MATRIX_CELLS}. "
            "Split the request."
        )


def parse_polygon(geojson: dict[str, Any], *, label: str) -> shapely.Geometry:
    """Return a valid WGS84 polygon from a GeoJSON Polygon/MultiPolygon/Feature (a closure area).

    The footprints' rule (`geo.footprints.parse_footprint`) with at most
    `MAX_AREA_VERTICES` vertices and no area limit.
    """
    return parse_footprint(geojson, label=label, max_vertices=MAX_AREA_VERTICES, max_area_m2=None).geometry
