"""Routing as a service: resolve places, pick the network, apply closures, route.

Places are ``(lon, lat)`` pairs, site ids or site names. A site is reached at its access
point (see `layers.networks.site_access`); a coordinate is snapped to the nearest edge
of the network that covers it, and farther than ``max_snap_m`` is an error.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import itertools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.ops

from geo.crs import BEIJING_BBOX, lonlat_to_utm
from geo.engine_arrays import ARRAYS_VERSION, engine_arrays
from geo.errors import InvalidInputError, NoRouteError, OutsideCoverageError
from geo.footprints import parse_footprint
from geo.limits import LIMITS, Limits
from geo.network import WALK_SPEED_KPH
from geo.regional import Calibration
from geo.routing import Route, RoutingEngine, build_engine, order_stops, route_overlap
from layers.diskcache import load_arrays, remove_superseded, save_arrays
from layers.networks import NetworkStore, RoadNetwork
from layers.places import NetworkAccess, Place, PlaceResolution, ResolvedPlace
from layers.route_notes import ACCESS_WARN_M, SPARSE_WALK_KM_PER_KM2, AccessLeg, NetworkLeg, WalkDensity

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from geo.snapping import Snap
    from layers.sites import SiteCatalog

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
        """Return the i-th closure alone (streets first, then areas).

        Parameters
        ----------
        i
            The closure's number.
        """
        if i < len(self.streets):
            return Closures(streets=(self.streets[i],))
        return Closures(areas=(self.areas[i - len(self.streets)],))


class RoutingService(PlaceResolution):
    """Routes, alternatives, matrices and itineraries over the loaded networks.

    Parameters
    ----------
    networks
        The network store.
    sites
        The site catalogue, for places given by id or name.
    site_access_max_m
        Largest gap between a site's boundary and its access road, metres.
    limits
        The request limits in force (`geo.limits.Limits`).
    """

    def __init__(
        self, networks: NetworkStore, sites: SiteCatalog, *, site_access_max_m: float = 300.0, limits: Limits = LIMITS
    ) -> None:
        self.networks = networks
        self.sites = sites
        self.site_access_max_m = site_access_max_m
        self.limits = limits
        self._engines: dict[tuple[str, str], RoutingEngine] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._site_snaps: dict[tuple[str, str, str, float], Snap] = {}
        self._density: dict[tuple[str, str, str], WalkDensity] = {}
        self._sparse: dict[tuple[str, str, str], list[tuple[WalkDensity, shapely.Geometry]]] = {}
        self._calibrations: dict[str, Calibration] = {}
        self._streets: dict[tuple[str, str, int], dict[str, list[tuple[int, int]]]] = {}

    def engine(self, net: RoadNetwork) -> RoutingEngine:
        """Return the routing engine of a network, built on first use.

        Parameters
        ----------
        net
            The road network.
        """
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
        """Build the engines and edge indexes of every network of ``mode`` now.

        Parameters
        ----------
        mode
            ``"drive"`` or ``"walk"``.
        """
        for net in self.networks.all(mode):
            self.engine(net)
            net.edge_index  # noqa: B018 - built on first access; snapping needs it

    # -- closures -------------------------------------------------------------------

    def closed_edges(self, net: RoadNetwork, closures: Closures) -> set[tuple[int, int]]:
        """Return the graph node pairs (u, v) that the closures shut.

        Parameters
        ----------
        net
            The road network.
        closures
            Streets and areas closed (`Closures`), or None for none.
        """
        for i, area in enumerate(closures.areas):
            n = int(shapely.get_num_coordinates(area))
            if n > self.limits.max_area_vertices:
                raise InvalidInputError(
                    f"closure area {i} has {n} vertices; at most {self.limits.max_area_vertices}. Simplify it."
                )
        out: set[tuple[int, int]] = set()
        if closures.streets:
            names = self.street_edges(net)
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

    def street_edges(self, net: RoadNetwork) -> dict[str, list[tuple[int, int]]]:
        """Return each street name's graph node pairs (built once per network: a walk over every edge).

        Parameters
        ----------
        net
            The road network.
        """
        key = (net.name, net.mode, id(net.graph))
        with self._lock:
            hit = self._streets.get(key)
        if hit is not None:
            return hit
        names: dict[str, list[tuple[int, int]]] = {}
        for u, v, d in net.graph.edges(data=True):
            nm = d.get("name")
            for n in nm if isinstance(nm, list) else [nm]:
                if isinstance(n, str):
                    names.setdefault(n, []).append((u, v))
        with self._lock:
            self._streets = {k: v for k, v in self._streets.items() if k[:2] != key[:2]}
            self._streets[key] = names
        return names

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
        """Return the best route (and up to ``alternatives - 1`` others) between two places.

        Parameters
        ----------
        origin
            Where the routes start.
        destination
            Where they end.
        mode
            ``"drive"`` or ``"walk"``.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        alternatives
            How many routes to return at most (the best first).
        closures
            Streets and areas closed (`Closures`), or None for none.
        max_snap_m
            The farthest a point may lie from the network, metres (farther is an error).
        """
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

        Parameters
        ----------
        origins
            The places routes start from.
        destinations
            The places routes end at.
        mode
            ``"drive"`` or ``"walk"``.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        max_snap_m
            The farthest a point may lie from the network, metres (farther is an error).
        """
        check_matrix_size(origins, destinations, limits=self.limits)
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
        """Return the origins x destinations cost matrix and the resolved places (every place must be covered).

        Parameters
        ----------
        origins
            The places routes start from.
        destinations
            The places routes end at.
        mode
            ``"drive"`` or ``"walk"``.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        max_snap_m
            The farthest a point may lie from the network, metres (farther is an error).
        """
        check_matrix_size(origins, destinations, limits=self.limits)
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

        Parameters
        ----------
        stops
            The places to visit in order (the first and last stay in place).
        mode
            ``"drive"`` or ``"walk"``.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        optimize
            Reorder the middle stops for the least total cost.
        closures
            Streets and areas closed (`Closures`), or None for none.
        max_snap_m
            The farthest a point may lie from the network, metres (farther is an error).
        """
        if len(stops) < 2:
            raise InvalidInputError(f"`stops` must hold at least 2 places; got {len(stops)}.")
        if len(stops) > self.limits.max_stops:
            raise InvalidInputError(f"`stops` holds {len(stops)} places; the limit is {self.limits.max_stops}.")
        if optimize and len(stops) - 2 > self.limits.max_optimised_stops:
            raise InvalidInputError(
                f"`optimize` reorders at most {self.limits.max_optimised_stops} intermediate stops; got {len(stops) - 2}."
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
    """Return each route's overlap (share of length) with the first.

    Parameters
    ----------
    routes
        Routes, the best first.
    """
    return [1.0 if i == 0 else route_overlap(r, routes[0]) for i, r in enumerate(routes)]


def check_matrix_size(origins: list[Place], destinations: list[Place], *, limits: Limits = LIMITS) -> None:
    """Refuse an empty matrix, or one of more than ``limits.max_matrix_cells`` cells (the one matrix-size check).

    Parameters
    ----------
    origins
        The places routes start from.
    destinations
        The places routes end at.
    limits
        The bounds in force.
    """
    if not origins or not destinations:
        raise InvalidInputError("`origins` and `destinations` must each hold at least one place.")
    cells = len(origins) * len(destinations)
    if cells > limits.max_matrix_cells:
        raise InvalidInputError(
            f"the matrix has {len(origins)} x {len(destinations)} = {cells} cells; the limit is "
            f"{limits.max_matrix_cells}. Split the request."
        )


def parse_polygon(
    geojson: dict[str, Any], *, label: str, limits: Limits = LIMITS, crs: int | None = None
) -> shapely.Geometry:
    """Return a valid WGS84 polygon from a GeoJSON Polygon/MultiPolygon/Feature (a closure area).

    The footprints' rule (`geo.footprints.parse_footprint`) with at most
    ``limits.max_area_vertices`` vertices and no area limit.

    Parameters
    ----------
    geojson
        A GeoJSON Polygon, MultiPolygon or Feature of one (WGS84).
    label
        How the input is named in error messages.
    limits
        The bounds in force.
    crs
        The EPSG code of the coordinates (None: WGS84 lon/lat); transformed to WGS84.
    """
    return parse_footprint(
        geojson, label=label, max_vertices=limits.max_area_vertices, max_area_m2=None, crs=crs
    ).geometry
