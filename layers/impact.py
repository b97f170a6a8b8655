"""Event closure impact: how much longer the people of each township take, and who is cut off.

A closure plan (streets by name, areas, subway entrances or stations shut, the sites it
serves) is evaluated on one drive or walk network: the township-to-township travel-time
matrix before and after the closures (the CCH engine with the closed arcs re-customised),
the gravity model of `geo.impact`, the walk to the nearest open subway entrance before and
after, and the most delayed origin-destination pairs with their routes.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from scipy.sparse import csgraph

from geo.crs import lonlat_to_utm
from geo.errors import InvalidInputError, NoRouteError, OutsideCoverageError
from geo.eventtime import CAR_OCCUPANCY, ClockWindow
from geo.impact import CUT_OFF_HOURS, TAU_S, ImpactFigures, gravity_shares, weighted_quantile
from geo.network import check_mode
from layers.eventimpact import EventFigures, EventModel, TravelModel
from layers.motorcade import Motorcade, MotorcadeService, ProgrammeAnswer
from layers.networks import SEED_NETWORK, RoadNetwork
from layers.routing import Closures

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import NDArray
    from scipy.spatial import cKDTree

    from geo.routing import Route, RoutingEngine
    from geo.snapping import Snap
    from layers.coverage import CoverageService
    from layers.registry import LayerStore
    from layers.routing import RoutingService

__all__ = [
    "TOP_PAIRS",
    "ClosurePlan",
    "ImpactResult",
    "ImpactService",
    "SiteAccess",
    "TownshipImpact",
]

log = logging.getLogger(__name__)

TOP_PAIRS = 10
TOWNSHIP_SNAP_M = 2000.0  # a township's point may lie this far from the network (parks, fields)


@dataclass(frozen=True)
class ClosurePlan:
    """What an event closes: streets, areas, subway entrances (or whole stations), and the sites it serves."""

    name: str = ""
    closures: Closures = field(default_factory=Closures)
    entrances: tuple[str, ...] = ()  # entrance names ("天安门东 A出口"), OSM ids ("n123") or station names
    sites: tuple[str, ...] = ()
    window: ClockWindow | None = None  # when every closure without its own window is in force (None: all day)
    street_windows: tuple[ClockWindow | None, ...] = ()  # per street, its own window (None: the plan's)
    area_windows: tuple[ClockWindow | None, ...] = ()
    entrance_windows: tuple[ClockWindow | None, ...] = ()
    motorcades: tuple[Motorcade, ...] = ()  # a motorcade programme whose rolling closures the plan holds
    motorcade_choices: tuple[str | int, ...] = ()  # per convoy: "recommended", "fastest", "cheapest" or an index

    def is_empty(self) -> bool:
        """Return whether the plan closes nothing."""
        return not self.closures and not self.entrances and not self.motorcades


@dataclass(frozen=True)
class TownshipImpact:
    """One township's figures."""

    township_id: int
    district: str
    township: str
    population: float
    mean_delay_s: float
    p90_delay_s: float
    people_cut_off: float
    entrance_walk_before_s: float | None
    entrance_walk_after_s: float | None
    mode_delay_s: dict[str, float] = field(default_factory=dict)  # mean delay per trip of each mode, in the windows
    queue_delay_s: float = 0.0  # mean wait at held roads per road trip (car and bus), in the windows
    person_hours: float = 0.0  # the closures' and the motorcades' together
    motorcade_person_hours: float = 0.0  # of the plan's motorcade holds, by the trips' origin


@dataclass(frozen=True)
class SiteAccess:
    """How a plan changes the townships' access to a site it serves (population-weighted)."""

    site_id: str
    label: str
    mean_before_s: float | None  # None when the site is not on the plan's network
    mean_after_s: float | None
    people_cut_off: float  # residents of the assessed townships who can no longer reach it
    note: str | None = None


@dataclass(frozen=True)
class PairRoute:
    """One of the most delayed origin-destination pairs."""

    origin: str
    destination: str
    trips: float  # residents' trips per day between them (gravity model)
    before_s: float
    after_s: float
    before: Route
    after: Route


@dataclass(frozen=True)
class ImpactResult:
    """A plan's cost to the city."""

    plan: ClosurePlan
    network: RoadNetwork
    mode: str
    townships: list[TownshipImpact]
    figures: ImpactFigures
    entrances_closed: list[str]
    closed_edges: int
    top_pairs: list[PairRoute]
    warnings: list[str]
    sites: list[SiteAccess] = field(default_factory=list)
    event: EventFigures | None = None
    travel: TravelModel = field(default_factory=TravelModel)
    motorcade: ProgrammeAnswer | None = None  # the plan's motorcade programme, priced

    @property
    def person_hours_lost(self) -> float:
        """Return person-hours lost per trip-day."""
        return self.figures.person_hours_lost

    def summary(self) -> dict[str, Any]:
        """Return the headline figures."""
        pop = sum(t.population for t in self.townships)
        delayed = [t for t in self.townships if t.mean_delay_s > 0]
        walk = [
            t
            for t in self.townships
            if t.entrance_walk_before_s is not None
            and (t.entrance_walk_after_s is None or t.entrance_walk_after_s > t.entrance_walk_before_s + 1e-6)
        ]
        return {
            "person_hours_lost": round(self.person_hours_lost, 2),
            "cost_person_hours": round(self.figures.cost_hours, 2),
            "people_cut_off": round(self.figures.total_cut_off, 1),
            "townships_assessed": len(self.townships),
            "people_assessed": round(pop),
            "townships_delayed": len(delayed),
            "townships_with_longer_walk_to_subway": len(walk),
            "closed_road_edges": self.closed_edges,
            "entrances_closed": len(self.entrances_closed),
            **self._event_summary(),
            **self._motorcade_summary(),
            "model": MODEL_TEXT,
        }

    def _motorcade_summary(self) -> dict[str, Any]:
        prog = self.motorcade
        if prog is None:
            return {}
        return {
            "motorcade_person_hours": round(prog.person_hours, 3),
            "motorcade": {
                "convoys": len(prog.chosen),
                "crossings_held": len(prog.holds),
                "merged_holds": sum(1 for h in prog.holds if len(h.hold.convoys) > 1),
                "apart_person_hours": round(prog.apart_person_hours, 3),
                "persons_held": round(sum(float(h.persons.sum()) for h in prog.holds), 1),
            },
        }

    def _event_summary(self) -> dict[str, Any]:
        ev = self.event
        if ev is None:
            return {}
        modes = ev.modes
        return {
            "person_hours_by_mode": {m: round(c.person_hours, 2) for m, c in modes.items()},
            "queue_person_hours": round(sum(float(c.queue_s.sum()) for c in modes.values()) / 3600.0, 2),
            "person_hours_by_hour": [round(float(h), 2) for h in ev.by_hour()],
            "closures_in_force": ev.span.iso() if ev.span is not None else None,
            "trips_in_windows": round(sum(float(c.trips.sum()) for c in modes.values())),
            "travel": {
                "mode_shares": self.travel.shares,
                "profile": self.travel.profile if isinstance(self.travel.profile, str) else list(self.travel.profile),
                "trips_per_person": round(ev.trips_per_person, 3),
                "car_occupancy": CAR_OCCUPANCY,
                "subway_window": ev.transit_window,
            },
        }


MODEL_TEXT = (
    "Residents of the assessed townships make the stated trips per person per day, leaving by hour after the "
    "stated profile and split by the stated mode shares; each mode's trips go from township i to j in proportion "
    f"to P_j * exp(-t_ij / {TAU_S / 60:g} min), t_ij that mode's time before the closures. A trip meets the "
    "closures in force when it leaves (each closure in its own window, or the plan's, or all day). Car and bus trips "
    "use the drive network: each pays the smaller of its detour and, on a closure shorter than a day, the wait at "
    "the first closed road of its route (the deterministic queue: T/(2(1 - q/s)) per trip, q the car flow of the "
    "hour assigned all-or-nothing, s 1,900 cars per hour per lane, 2,400 on motorways and trunk roads); subway "
    "trips use the public transport model with the stations shut whose every entrance is closed; walking and "
    "cycling trips use the walk network with the closed areas. Person-hours lost on the day = the delays of all "
    f"trips; trips with neither a way round nor a wait are cut off; plans are ranked by their cost: person-hours "
    f"plus {CUT_OFF_HOURS:g} hour per trip cut off. Every trip goes to another township (no trips within one). A "
    "township whose point lies inside a closed area is cut off. A plan's motorcade programme adds what its held "
    "crossings cost (the motorcade model), priced apart from the closures and added. Townships are assessed when "
    "at least half of their "
    "area lies in the network's extent; each is represented by a point inside it. Sources: the manual, Event closures."
)


@dataclass(frozen=True)
class _Towns:
    rows: NDArray[np.int64]  # into the townships layer
    snaps: list[Snap]
    population: NDArray[np.float64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]


class ImpactService:
    """Evaluate and compare closure plans.

    Parameters
    ----------
    routing, coverage, layers
        The services of the running context.
    """

    def __init__(self, routing: RoutingService, coverage: CoverageService, layers: LayerStore) -> None:
        self.routing = routing
        self.coverage = coverage
        self.layers = layers
        self._towns: dict[tuple[str, str], _Towns] = {}
        self._walk_nodes: dict[str, tuple[cKDTree, NDArray[np.float64], NDArray[np.float64]]] = {}
        self._lock = threading.Lock()
        self.event = EventModel(self)
        self.motorcades = MotorcadeService(self)

    # -- inputs -------------------------------------------------------------------

    def network(self, mode: str, name: str | None = None) -> RoadNetwork:
        """Return the network a plan is evaluated on (the shipped central one by default).

        Parameters
        ----------
        mode
            ``"drive"`` or ``"walk"``.
        name
            A network name (None: the shipped central network).
        """
        return self.routing.networks.get(name or SEED_NETWORK, check_mode(mode))

    def towns(self, net: RoadNetwork) -> _Towns:
        """Return the assessed townships of a network, each snapped at a point inside it (cached).

        Parameters
        ----------
        net
            The road network.
        """
        key = (net.name, net.mode)
        with self._lock:
            hit = self._towns.get(key)
        if hit is not None:
            return hit
        t = self.coverage.townships
        assessed = self.coverage._assessed(net)
        pts = shapely.point_on_surface(t.geometry.to_numpy())
        rows, snaps = [], []
        for i in np.flatnonzero(assessed).tolist():
            p = pts[i]
            if not net.covers(p.x, p.y):
                continue
            try:
                snaps.append(net.edge_index.snap(p.x, p.y, max_distance_m=TOWNSHIP_SNAP_M, label="township"))
            except OutsideCoverageError:
                continue
            rows.append(i)
        r = np.array(rows, dtype=np.int64)
        towns = _Towns(
            r,
            snaps,
            t["population"].to_numpy(dtype=float)[r],
            shapely.get_x(pts[r]),
            shapely.get_y(pts[r]),
        )
        with self._lock:
            self._towns[key] = towns
        return towns

    def check_plan(self, plan: ClosurePlan, net: RoadNetwork) -> list[str]:
        """Refuse a plan that names what does not exist; return the entrances it closes (names).

        Parameters
        ----------
        plan
            A closure plan.
        net
            The road network.
        """
        for sid in plan.sites:
            self.routing.sites.get(sid)  # NotFoundError with suggestions
        for i, area in enumerate(plan.closures.areas):
            if not area.intersects(net.extent):
                raise InvalidInputError(
                    f"`closures.areas[{i}]` lies outside network {net.extent_text()}; draw it over the network's roads."
                )
        return self._closed_entrances(plan)

    def validate(self, plan: ClosurePlan, *, mode: str = "drive", network: str | None = None) -> None:
        """Refuse a plan that names a street, entrance or site that does not exist, or an area off the network.

        Parameters
        ----------
        plan
            A closure plan.
        mode
            ``"drive"`` or ``"walk"``.
        network
            A network name, or None for the preferred one.
        """
        net = self.network(mode, network)
        self.check_plan(plan, net)
        if plan.closures.streets:
            self.routing.closed_edges(net, Closures(streets=plan.closures.streets))

    def _entrances(self) -> gpd.GeoDataFrame:
        return self.layers.load("subway-entrances")

    def _closed_entrances(self, plan: ClosurePlan) -> list[str]:
        ent = self._entrances()
        top = self.routing.limits.max_plan_entrances
        if len(plan.entrances) > top:
            raise InvalidInputError(f"`entrances` has {len(plan.entrances)} items; at most {top}.")
        names = ent["name"].astype(str).tolist()
        stations = ent["station"].astype(str).tolist()
        ids = ent["osm_id"].astype(str).tolist()
        closed: set[int] = set()
        for e in plan.entrances:
            hit = [i for i in range(len(ent)) if e in (names[i], ids[i], stations[i])]
            if not hit:
                close = difflib.get_close_matches(e, sorted(set(names) | set(stations)), n=3)
                hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                raise InvalidInputError(f"`entrances`: no subway entrance or station named {e!r}.{hint}")
            closed.update(hit)
        # Entrances inside a closed area are shut with it.
        xy = np.column_stack([ent.geometry.x.to_numpy(), ent.geometry.y.to_numpy()])
        for area in plan.closures.areas:
            closed.update(np.flatnonzero(shapely.contains_xy(area, xy[:, 0], xy[:, 1])).tolist())
        return [names[i] for i in sorted(closed)]

    # -- the walk to the subway -----------------------------------------------------

    def _walk_to_entrances(
        self, plan: ClosurePlan, towns: _Towns, closed: list[str]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return each township point's walk (seconds) to the nearest open entrance, before and after."""
        walk = self.routing.networks.get(SEED_NETWORK, "walk")
        engine = self.routing.engine(walk)
        with self._lock:
            hit = self._walk_nodes.get(walk.name)
        if hit is None:
            from scipy.spatial import cKDTree  # imported by the first impact, not by every start

            x, y = lonlat_to_utm(engine.lon, engine.lat, name="walk nodes")
            hit = (cKDTree(np.column_stack([x, y])), x, y)
            with self._lock:
                self._walk_nodes[walk.name] = hit
        tree = hit[0]
        ent = self._entrances()
        ex, ey = lonlat_to_utm(ent.geometry.x.to_numpy(), ent.geometry.y.to_numpy(), name="subway entrances")
        ed, enode = tree.query(np.column_stack([ex, ey]))
        tx, ty = lonlat_to_utm(towns.lon, towns.lat, name="townships")
        tdist, tnode = tree.query(np.column_stack([tx, ty]))
        far = tdist > TOWNSHIP_SNAP_M  # beyond the walk network: no walk to the subway is computed
        usable = ed <= 300.0  # an entrance farther than this from any walkable way is not on this network
        open_after = usable & ~ent["name"].astype(str).isin(closed).to_numpy()
        before = self._nearest(engine, enode[usable], None)[tnode]
        blocked = None
        if plan.closures:
            # Streets that walking does not use (motorways, expressways) close nothing here.
            edges = self.routing.closed_edges(walk, Closures(areas=plan.closures.areas))
            for street in plan.closures.streets:
                try:
                    edges |= self.routing.closed_edges(walk, Closures(streets=(street,)))
                except InvalidInputError:
                    continue
            blocked = engine.edge_mask(edges, metric="fastest")
        after = self._nearest(engine, enode[open_after], blocked)[tnode]
        before[far] = np.inf
        after[far] = np.inf
        return before, after

    @staticmethod
    def _nearest(
        engine: RoutingEngine, sources: NDArray[np.int64], blocked: NDArray[np.bool_] | None
    ) -> NDArray[np.float64]:
        """Return, per node, seconds to the nearest of ``sources`` (walk graphs run both ways)."""
        if len(sources) == 0:
            return np.full(len(engine.lon), np.inf)
        g = engine._csr["fastest"]
        if blocked is not None and blocked.any():
            g = g.copy()
            g.data = np.where(blocked, 0.0, g.data)
            g.eliminate_zeros()
        dist = csgraph.dijkstra(g.T.tocsr(), indices=np.unique(sources), min_only=True)
        return np.asarray(dist, dtype=float)

    # -- evaluation -------------------------------------------------------------------

    def evaluate(
        self,
        plan: ClosurePlan,
        *,
        travel: TravelModel | None = None,
        network: str | None = None,
        top: int = TOP_PAIRS,
    ) -> ImpactResult:
        """Return a plan's cost: per township and mode, in time, with queues; the walk to the subway; the worst pairs.

        Parameters
        ----------
        plan
            A closure plan.
        travel
            Who travels, when and by which mode (None: `TravelModel`'s defaults).
        network
            A drive network name, or None for the shipped central one.
        top
            How many of the most delayed car trips to list.
        """
        travel = travel or TravelModel()
        travel.hourly()  # a bad profile is refused before any work
        prog = self._programme(plan, travel, network)
        net = self.network("drive", network) if prog is None else prog.answers[0].net
        closed_entrances = self.check_plan(plan, net)
        engine = self.routing.engine(net)
        towns = self.towns(net)
        if len(towns.rows) < 2:
            raise OutsideCoverageError(f"network {net.name!r} holds fewer than two assessed townships.")
        ev = self.event.evaluate(plan, net, towns, travel)
        edges = self.routing.closed_edges(net, plan.closures) if plan.closures else set()
        blocked = engine.edge_mask(edges, metric="fastest") if edges else None
        before = self.event.car_before(net, engine, towns)  # the event model's, cached per network
        after = self._matrix(net, engine, towns, blocked) if blocked is not None else before.copy()
        figs = _figures(towns.population, before, after, ev)
        held = prog.by_town_hours if prog is not None else np.zeros(len(towns.rows))
        if prog is not None:
            figs = dataclasses.replace(figs, person_hours_lost=figs.person_hours_lost + prog.person_hours)
        walk_before, walk_after = self._walk_to_entrances(plan, towns, closed_entrances)
        t = self.coverage.townships
        out = []
        for k, i in enumerate(towns.rows.tolist()):
            wb, wa = float(walk_before[k]), float(walk_after[k])
            road = [c for m, c in ev.modes.items() if m in ("car", "bus")]
            road_trips = sum(float(c.trips[k] - c.cut_off[k]) for c in road)
            out.append(
                TownshipImpact(
                    int(t["township_id"].iloc[i]),
                    str(t["district"].iloc[i]),
                    str(t["township"].iloc[i]),
                    float(towns.population[k]),
                    float(figs.mean_delay_s[k]),
                    float(figs.p90_delay_s[k]),
                    float(figs.people_cut_off[k]),
                    wb if np.isfinite(wb) else None,
                    wa if np.isfinite(wa) else None,
                    {m: _mean(c.delay_s[k] + c.queue_s[k], c.trips[k] - c.cut_off[k]) for m, c in ev.modes.items()},
                    _mean(sum(float(c.queue_s[k]) for c in road), road_trips),
                    sum(float(c.delay_s[k] + c.queue_s[k]) for c in ev.modes.values()) / 3600.0 + float(held[k]),
                    float(held[k]),
                )
            )
        pairs = self._top_pairs(engine, towns, figs, blocked, top) if blocked is not None else []
        sites = [self._site_access(sid, net, engine, towns, blocked) for sid in plan.sites]
        warnings = self.routing.precision_warnings(net) + ev.warnings
        res = ImpactResult(plan, net, "drive", out, figs, closed_entrances, len(edges), pairs, warnings, sites)
        return dataclasses.replace(res, event=ev, travel=travel, motorcade=prog)

    def _programme(self, plan: ClosurePlan, travel: TravelModel, network: str | None) -> ProgrammeAnswer | None:
        """Return the plan's motorcade programme priced with ``travel`` (None without one).

        Without ``network``, the programme's own network (the one holding the convoys' ends) is the plan's.
        """
        if not plan.motorcades:
            return None
        trips = [dataclasses.replace(t, travel=travel) for t in plan.motorcades]
        return self.motorcades.programme(trips, list(plan.motorcade_choices), network=network, field="motorcades")

    def _site_access(
        self, site_id: str, net: RoadNetwork, engine: RoutingEngine, towns: _Towns, blocked: NDArray[np.bool_] | None
    ) -> SiteAccess:
        """Return the people-weighted time from the townships to a site, before and after the closures."""
        site = self.routing.sites.get(site_id)
        label = f"{site.name_en} ({site.id})"
        try:
            place = self.routing.resolve(site.id, mode=net.mode, label="site", network=net)
        except OutsideCoverageError as exc:
            return SiteAccess(site.id, label, None, None, 0.0, f"not on network {net.name!r}: {exc}")
        before = engine.matrix(towns.snaps, [place.snap], metric="fastest")[:, 0]
        after = (
            engine.matrix(towns.snaps, [place.snap], metric="fastest", blocked=blocked)[:, 0]
            if blocked is not None
            else before
        )
        pop = towns.population
        ok_b, ok_a = np.isfinite(before), np.isfinite(after)
        mean_b = float((pop[ok_b] * before[ok_b]).sum() / pop[ok_b].sum()) if ok_b.any() else None
        mean_a = float((pop[ok_a] * after[ok_a]).sum() / pop[ok_a].sum()) if ok_a.any() else None
        cut = float(pop[ok_b & ~ok_a].sum())
        shut = blocked is not None and bool(
            blocked[engine.edge_mask({(place.snap.u, place.snap.v)}, metric="fastest")].any()
        )
        note = (
            "its access road is closed by the plan (reached along it, as residents and the event are)" if shut else None
        )
        return SiteAccess(site.id, label, mean_b, mean_a, cut, note)

    def _matrix(
        self, net: RoadNetwork, engine: RoutingEngine, towns: _Towns, blocked: NDArray[np.bool_] | None
    ) -> NDArray[np.float64]:
        m = engine.matrix(towns.snaps, towns.snaps, metric="fastest", blocked=blocked)
        np.fill_diagonal(m, 0.0)
        return m

    def _top_pairs(
        self, engine: RoutingEngine, towns: _Towns, figs: ImpactFigures, blocked: NDArray[np.bool_] | None, top: int
    ) -> list[PairRoute]:
        t = self.coverage.townships
        trips = towns.population[:, None] * figs.shares
        delay = np.where(trips > 0, np.nan_to_num(figs.delay_s, nan=-1.0), -1.0)
        order = np.argsort(-delay, axis=None, kind="stable")[:top]
        out = []
        for flat in order.tolist():
            i, j = divmod(flat, len(towns.rows))
            if delay[i, j] <= 0:
                break
            try:
                before = engine.route(towns.snaps[i], towns.snaps[j], metric="fastest")
                after = engine.route(towns.snaps[i], towns.snaps[j], metric="fastest", blocked=blocked)
            except NoRouteError:
                continue
            name = t["township"].to_numpy()
            out.append(
                PairRoute(
                    str(name[towns.rows[i]]),
                    str(name[towns.rows[j]]),
                    float(trips[i, j]),
                    before.travel_time_s,
                    after.travel_time_s,
                    before,
                    after,
                )
            )
        return out

    def compare(
        self, plans: list[ClosurePlan], *, travel: TravelModel | None = None, network: str | None = None
    ) -> list[ImpactResult]:
        """Evaluate several plans on one network with one travel model (ranked by the caller).

        Parameters
        ----------
        plans
            The plans.
        travel
            Who travels, when and by which mode.
        network
            A drive network name, or None for the shipped central one.
        """
        if len(plans) < 2:
            raise InvalidInputError(f"`plans` needs at least two plans to compare; got {len(plans)}.")
        if len(plans) > self.routing.limits.max_compare:
            raise InvalidInputError(
                f"compare at most {self.routing.limits.max_compare} plans at once; got {len(plans)}."
            )
        return [self.evaluate(p, travel=travel, network=network) for p in plans]


def _mean(total: float, trips: float) -> float:
    """Return total / trips, or 0 when there are no trips."""
    return float(total / trips) if trips > 1e-9 else 0.0


def _figures(
    population: NDArray[np.float64], before: NDArray[np.float64], after: NDArray[np.float64], ev: EventFigures
) -> ImpactFigures:
    """Return the headline figures of the event model (all modes), with the car's all-closures matrices for the pairs."""
    n = len(population)
    modes = list(ev.modes.values())
    trips = np.sum([c.trips - c.cut_off for c in modes], axis=0) if modes else np.zeros(n)
    total = np.sum([c.delay_s + c.queue_s for c in modes], axis=0) if modes else np.zeros(n)
    mean = np.divide(total, trips, out=np.zeros(n), where=trips > 1e-9)
    p90 = np.zeros(n)
    for i in range(n):
        v = np.concatenate([np.concatenate(c.values[i]) for c in modes if c.values[i]] or [np.zeros(0)])
        w = np.concatenate([np.concatenate(c.weights[i]) for c in modes if c.weights[i]] or [np.zeros(0)])
        ok = np.isfinite(v)
        p90[i] = weighted_quantile(v[ok], w[ok], 0.9) if ok.any() else 0.0
    cut = np.sum([c.cut_off for c in modes], axis=0) if modes else np.zeros(n)
    shares = gravity_shares(population, before)
    with np.errstate(invalid="ignore"):
        delay = np.where(np.isfinite(after) & (shares > 0), np.maximum(after - before, 0.0), np.nan)
    return ImpactFigures(mean, p90, cut, shares, delay, ev.person_hours())
