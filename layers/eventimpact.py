"""A closure plan in time, by mode, with queues: what `layers.impact.ImpactService` evaluates.

The day is cut into pieces (`geo.eventtime.pieces`) where any closure opens or closes and at
every hour. In each piece, the trips that leave then (`geo.eventtime.hour_share` of the day's
trips) meet the closures in force then:

- car and bus trips take the drive network: the detour (the township matrix with the closed
  arcs) or, on a closure shorter than a day, the wait at the first closed arc of their route
  (`geo.assign.AonTrees.first_closed`), whichever is smaller (`geo.eventtime.wait_or_detour`);
  the queue's flow is the car trips of that hour on the approach (bus vehicles are not counted:
  no source for bus volumes per link);
- subway trips take the public transport model (`layers.transit`) with the stations shut whose
  every entrance is closed (one 60-minute window from the hour the plan's first closure starts,
  p50);
- walking and cycling trips take the walk network with the closed areas (streets closed to
  traffic stay open on foot and by bicycle).

Each mode's trips go between townships by the gravity model of `geo.impact` on that mode's own
times before the closures.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from geo.assign import AonTrees, aon_trees, local_detours
from geo.engine_arrays import SEP
from geo.errors import InvalidInputError, OutsideCoverageError
from geo.eventtime import (
    ALL_DAY,
    BIKE_SPEED_KPH,
    CAR_OCCUPANCY,
    CENTRAL_TRIPS_2019,
    DAY_S,
    MODE_SHARES,
    PROFILES,
    ClockWindow,
    Piece,
    closed_span,
    hour_share,
    pieces,
    saturation_flow,
    wait_or_detour,
)
from geo.impact import CUT_OFF_HOURS, gravity_shares
from layers.routing import Closures
from layers.transit import Window

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    from geo.routing import RoutingEngine
    from geo.snapping import Snap
    from layers.impact import ClosurePlan, ImpactService, _Towns
    from layers.networks import RoadNetwork

__all__ = ["CENTRAL_DISTRICTS", "EventFigures", "EventModel", "ModeCost", "TravelModel"]

T = TypeVar("T")
ROAD_MODES = ("car", "bus")
# The six districts of Beijing's central city (the annual report's 中心城区), for the trip rate.
CENTRAL_DISTRICTS = ("东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区")
WALK_KPH = 4.5  # the walk network's speed (layers.networks; R5's default)
DETOUR_LIMIT_S = 3600.0  # the atlas looks for a way round a link within an hour (a bound of the search, a choice)


@dataclass(frozen=True)
class TravelModel:
    """Who travels: the mode shares, the hourly profile and the trips per resident per day (None: derived)."""

    shares: dict[str, float] = field(default_factory=lambda: dict(MODE_SHARES))
    profile: str | tuple[float, ...] = "diurnal"  # a named profile, or 24 weights of your own (hour 0 first)
    trips_per_person: float | None = None

    def hourly(self) -> NDArray[np.float64]:
        """Return the share of the day's trips leaving in each hour (24 values summing to one)."""
        if isinstance(self.profile, str):
            if self.profile not in PROFILES:
                raise InvalidInputError(f"`profile` must be one of {', '.join(PROFILES)} or 24 weights.")
            return PROFILES[self.profile]
        w = np.asarray(self.profile, dtype=float)
        if w.shape != (24,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise InvalidInputError("`profile` must be 24 finite, non-negative weights (hour 0 first), not all zero.")
        return w / w.sum()


@dataclass
class ModeCost:
    """One mode's cost: per township (the assessed order) and in total."""

    mode: str
    trips: NDArray[np.float64]  # trips of the mode leaving during the plan's closures, per township
    delay_s: NDArray[np.float64]  # person-seconds of detour
    queue_s: NDArray[np.float64]  # person-seconds waiting at held roads
    cut_off: NDArray[np.float64]  # trips with neither a detour nor a wait
    by_hour: NDArray[np.float64]  # person-hours by hour of the day (0-23)
    values: list[list[NDArray[np.float64]]] = field(default_factory=list)  # per township: delays of its trip groups
    weights: list[list[NDArray[np.float64]]] = field(default_factory=list)  # and their trips

    @property
    def person_hours(self) -> float:
        """Return the person-hours lost (detours and waits)."""
        return float((self.delay_s.sum() + self.queue_s.sum()) / 3600.0)


@dataclass(frozen=True)
class EventFigures:
    """What the event model found, per mode and in total."""

    modes: dict[str, ModeCost]
    trips_per_person: float
    span: ClockWindow | None  # from the first closure to the last (None: an empty plan)
    transit_window: str | None
    warnings: list[str]

    def person_hours(self) -> float:
        """Return the person-hours lost over all modes."""
        return sum(m.person_hours for m in self.modes.values())

    def by_hour(self) -> NDArray[np.float64]:
        """Return person-hours lost by hour of the day."""
        return np.sum([m.by_hour for m in self.modes.values()], axis=0) if self.modes else np.zeros(24)


@dataclass(frozen=True)
class _Item:
    closures: Closures
    entrances: tuple[str, ...]
    window: ClockWindow


@dataclass(frozen=True)
class _Run:
    """One evaluation's fixed inputs."""

    net: RoadNetwork
    engine: RoutingEngine
    towns: _Towns
    travel: TravelModel
    items: list[_Item]
    item_arcs: list[NDArray[np.bool_] | None]
    tw: Window


@dataclass
class _SetCache:
    """Per set of closures in force: what each network needs."""

    car_blocked: NDArray[np.bool_] | None = None
    car_after: NDArray[np.float64] | None = None
    walk_after: NDArray[np.float64] | None = None
    subway_after: NDArray[np.float64] | None = None
    stations: tuple[str, ...] = ()


class EventModel:
    """The event-time model over an `ImpactService`'s networks and townships.

    Parameters
    ----------
    impact
        The impact service (networks, townships, transit).
    """

    def __init__(self, impact: ImpactService) -> None:
        self.impact = impact
        self._memo: dict[tuple[Any, ...], Any] = {}  # what one network needs once: trees, matrices, ways round
        self._lock = threading.Lock()

    # -- the inputs -------------------------------------------------------------------

    def trips_per_person(self, travel: TravelModel) -> float:
        """Return trips per resident per weekday: given, or the central city's 2019 trips over its residents.

        Parameters
        ----------
        travel
            The travel model.
        """
        if travel.trips_per_person is not None:
            return travel.trips_per_person
        t = self.impact.coverage.townships
        central = float(t.loc[t["district"].isin(CENTRAL_DISTRICTS), "population"].sum())
        return CENTRAL_TRIPS_2019 / central

    def trees(self, net: RoadNetwork, engine: RoutingEngine, towns: _Towns) -> tuple[AonTrees, NDArray[np.int64]]:
        """Return the fastest-route trees from the townships' nodes and those nodes (cached per network).

        Parameters
        ----------
        net
            The drive network.
        engine
            Its engine.
        towns
            Its assessed townships.
        """

        def make() -> tuple[AonTrees, NDArray[np.int64]]:
            nodes = np.array([engine.index[s.u if s.fraction < 0.5 else s.v] for s in towns.snaps], dtype=np.int64)
            return aon_trees(engine._csr["fastest"], nodes), nodes

        return self.cached(("trees", net.name, id(engine)), make)

    def walk_snaps(self, towns: _Towns) -> tuple[RoadNetwork, list[Snap | None]]:
        """Return the walk network and each township's point snapped to it (None: off it).

        Parameters
        ----------
        towns
            The assessed townships of the plan's drive network.
        """
        from layers.impact import TOWNSHIP_SNAP_M  # the one snap distance of the impact model
        from layers.networks import SEED_NETWORK

        walk = self.impact.routing.networks.get(SEED_NETWORK, "walk")

        def snap_all() -> list[Snap | None]:
            out: list[Snap | None] = []
            for x, y in zip(towns.lon.tolist(), towns.lat.tolist(), strict=True):
                try:
                    out.append(walk.edge_index.snap(x, y, max_distance_m=TOWNSHIP_SNAP_M, label="township"))
                except OutsideCoverageError:
                    out.append(None)
            return out

        # Once per (walk network, townships): every evaluation asks for them several times.
        return walk, self.cached(("walk-snaps", walk.name, id(walk.graph), id(towns)), snap_all)

    def _walk_matrix(
        self, walk: RoadNetwork, snaps: list[Snap | None], blocked: NDArray[np.bool_] | None
    ) -> NDArray[np.float64]:
        ok = [i for i, s in enumerate(snaps) if s is not None]
        m = np.full((len(snaps), len(snaps)), np.inf)
        if len(ok) >= 2:
            sub = [s for s in snaps if s is not None]
            m[np.ix_(ok, ok)] = self.impact.routing.engine(walk).matrix(sub, sub, metric="fastest", blocked=blocked)
        np.fill_diagonal(m, 0.0)
        return m

    def _subway_matrix(self, towns: _Towns, window: Window, stations: tuple[str, ...]) -> NDArray[np.float64]:
        transit = self.impact.coverage.transit
        if transit is None:
            raise OutsideCoverageError("the public transport model is not loaded.")
        # Only the townships on the walk network can reach the subway (the rest: no subway trips modelled).
        _, snaps = self.walk_snaps(towns)
        ok = [i for i, sn in enumerate(snaps) if sn is not None]
        places: list[tuple[float, float] | str] = [(float(towns.lon[i]), float(towns.lat[i])) for i in ok]
        closed = transit.closed_stations(stations) if stations else None
        m = np.full((len(snaps), len(snaps)), np.inf)
        if len(ok) >= 2:
            rows = max(1, self.impact.routing.limits.max_matrix_cells // len(places))  # the request limit, in rows
            sub = np.vstack(
                [
                    transit.matrix(places[a : a + rows], places, window=window, closed=closed).seconds[50]
                    for a in range(0, len(places), rows)
                ]
            )
            m[np.ix_(ok, ok)] = np.where(np.isnan(sub), np.inf, sub)
        np.fill_diagonal(m, 0.0)
        return m

    def car_before(self, net: RoadNetwork, engine: RoutingEngine, towns: _Towns) -> NDArray[np.float64]:
        """Return the township drive matrix before any closure (cached per network).

        Parameters
        ----------
        net
            The drive network.
        engine
            Its engine.
        towns
            Its assessed townships.
        """
        return self.cached(("car", net.name, id(engine)), lambda: self.impact._matrix(net, engine, towns, None))

    def cached(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """Return what is cached under ``key``, made by ``make()`` the first time.

        Parameters
        ----------
        key
            What it is of (its kind first, then the network).
        make
            Makes it.
        """
        with self._lock:
            hit = self._memo.get(key)
        if hit is None:
            hit = make()
            with self._lock:
                self._memo[key] = hit
        return cast("T", hit)

    def demand_per_person(self, net: RoadNetwork, engine: RoutingEngine, towns: _Towns) -> NDArray[np.float64]:
        """Return the township-to-township trips when every resident makes one trip a day by car (gravity, cached).

        Parameters
        ----------
        net
            The drive network.
        engine
            Its engine.
        towns
            Its assessed townships.
        """
        before = self.car_before(net, engine, towns)
        return self.cached(
            ("demand", net.name, id(engine)),
            lambda: towns.population[:, None] * gravity_shares(towns.population, before),
        )

    def flows_per_person(self, net: RoadNetwork, engine: RoutingEngine, towns: _Towns) -> NDArray[np.float64]:
        """Return each drive arc's trips of `demand_per_person`, all-or-nothing on the fastest routes (cached).

        Parameters
        ----------
        net
            The drive network.
        engine
            Its engine.
        towns
            Its assessed townships.
        """
        trees, nodes = self.trees(net, engine, towns)
        demand = self.demand_per_person(net, engine, towns)
        return self.cached(("flows", net.name, id(engine)), lambda: trees.flows(demand, nodes))

    # -- the plan -------------------------------------------------------------------------

    @staticmethod
    def items(plan: ClosurePlan) -> list[_Item]:
        """Return the plan's closures one by one, each with its window (its own, the plan's, or the whole day).

        Parameters
        ----------
        plan
            A closure plan.
        """

        def win(own: tuple[ClockWindow | None, ...], i: int) -> ClockWindow:
            w = own[i] if i < len(own) else None
            return w or plan.window or ALL_DAY

        c = plan.closures
        out = [_Item(Closures(streets=(s,)), (), win(plan.street_windows, i)) for i, s in enumerate(c.streets)]
        out += [_Item(Closures(areas=(a,)), (), win(plan.area_windows, i)) for i, a in enumerate(c.areas)]
        out += [_Item(Closures(), (e,), win(plan.entrance_windows, i)) for i, e in enumerate(plan.entrances)]
        return out

    def _stations_shut(self, items: list[_Item]) -> tuple[str, ...]:
        """Return the subway stations every entrance of which the items close (with the areas' entrances)."""
        ent = self.impact._entrances()
        areas = tuple(a for it in items for a in it.closures.areas)
        from layers.impact import ClosurePlan  # the plan type, for the entrance lookup

        probe = ClosurePlan(closures=Closures(areas=areas), entrances=tuple(e for it in items for e in it.entrances))
        closed = set(self.impact._closed_entrances(probe))
        if not closed:
            return ()
        by_station = ent.groupby(ent["station"].astype(str))["name"].agg(lambda s: set(map(str, s)))
        shut = [st for st, names in by_station.items() if names <= closed]
        transit = self.impact.coverage.transit
        known = set(transit.engine.tt.station_names) if transit is not None else set()
        return tuple(sorted(s for s in shut if s in known))

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(self, plan: ClosurePlan, net: RoadNetwork, towns: _Towns, travel: TravelModel) -> EventFigures:
        """Return the plan's cost per mode, township and hour.

        Parameters
        ----------
        plan
            A closure plan.
        net
            The drive network it is evaluated on.
        towns
            That network's assessed townships.
        travel
            Who travels, when and how.
        """
        engine = self.impact.routing.engine(net)
        items = self.items(plan)
        parts = pieces([it.window for it in items])
        rate = self.trips_per_person(travel)
        profile = travel.hourly()
        n = len(towns.rows)
        warnings: list[str] = []
        span = ClockWindow(parts[0].start_s, parts[-1].end_s) if parts else None
        first_hour = (parts[0].start_s // 3600) % 24 if parts and parts[0].start_s % DAY_S else 8
        tw = Window(first_hour * 3600, 60)
        before = self._befores(net, engine, towns, travel, tw, warnings)
        sets: dict[tuple[int, ...], _SetCache] = {}
        run = _Run(net, engine, towns, travel, items, [self._item_arcs(net, engine, it) for it in items], tw)
        costs = {m: _empty(m, n) for m in travel.shares if travel.shares[m] > 0 and m in before}
        daily = {
            m: towns.population[:, None] * rate * travel.shares[m] * gravity_shares(towns.population, before[m])
            for m in costs
        }
        for piece in parts:
            cache = sets.get(piece.active)
            if cache is None:
                cache = sets[piece.active] = self._set(run, piece.active)
            frac = hour_share(piece, profile)
            unit_road, queued = (
                self._road_units(run, piece, cache, before["car"], daily.get("car"), frac)
                if any(m in costs for m in ROAD_MODES)
                else (None, None)
            )
            for m, cost in costs.items():
                unit = unit_road if m in ROAD_MODES else self._after_unit(m, cache, before[m])
                assert unit is not None
                self._add(cost, daily[m] * frac, unit, queued if m in ROAD_MODES else None, piece.hour)
        for m in travel.shares:
            if travel.shares[m] > 0 and m not in before:
                warnings.append(f"{m} trips are not modelled on network {net.name!r} (see the manual, Event closures).")
        return EventFigures(costs, rate, span, tw.label() if "subway" in costs else None, warnings)

    def _befores(
        self,
        net: RoadNetwork,
        engine: RoutingEngine,
        towns: _Towns,
        travel: TravelModel,
        tw: Window,
        warnings: list[str],
    ) -> dict[str, NDArray[np.float64]]:
        """Return each mode's township matrix before the closures (seconds; inf where no trip is modelled)."""
        out: dict[str, NDArray[np.float64]] = {}
        want = {m for m, s in travel.shares.items() if s > 0}
        if want & set(ROAD_MODES):
            car = self.car_before(net, engine, towns)
            out.update(dict.fromkeys(ROAD_MODES, car))
        if want & {"walk", "bike"}:
            walk, snaps = self.walk_snaps(towns)
            w = self.cached(("walk", net.name, walk.name), lambda: self._walk_matrix(walk, snaps, None))
            out["walk"] = w
            out["bike"] = w * (WALK_KPH / BIKE_SPEED_KPH)
        if "subway" in want:
            try:
                out["subway"] = self.cached(
                    ("subway", net.name, tw.start_s), lambda: self._subway_matrix(towns, tw, ())
                )
            except OutsideCoverageError as exc:
                warnings.append(f"subway trips are not modelled: {exc}")
        return out

    def _item_arcs(self, net: RoadNetwork, engine: RoutingEngine, item: _Item) -> NDArray[np.bool_] | None:
        """Return the drive arc rows an item closes (None: none)."""
        if not item.closures:
            return None
        edges = self.impact.routing.closed_edges(net, item.closures)
        return engine.edge_mask(edges, metric="fastest") if edges else None

    def _set(self, run: _Run, active: tuple[int, ...]) -> _SetCache:
        """Return the matrices after the closures of one set in force."""
        net, engine, towns, items, travel, tw = run.net, run.engine, run.towns, run.items, run.travel, run.tw
        item_arcs = run.item_arcs
        cache = _SetCache()
        masks = [m for i in active if (m := item_arcs[i]) is not None]
        if masks:
            blocked = np.logical_or.reduce(masks)
            cache.car_blocked = blocked
            cache.car_after = self.impact._matrix(net, engine, towns, blocked)
        areas = tuple(a for i in active for a in items[i].closures.areas)
        want = {m for m, s in travel.shares.items() if s > 0}
        if areas and want & {"walk", "bike"}:
            walk, snaps = self.walk_snaps(towns)
            edges = self.impact.routing.closed_edges(walk, Closures(areas=areas))
            wb = self.impact.routing.engine(walk).edge_mask(edges, metric="fastest") if edges else None
            cache.walk_after = self._walk_matrix(walk, snaps, wb)
        if "subway" in want:
            cache.stations = self._stations_shut([items[i] for i in active])
            if cache.stations:
                cache.subway_after = self._subway_matrix(towns, tw, cache.stations)
        return cache

    @staticmethod
    def _after_unit(mode: str, cache: _SetCache, before: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return a non-road mode's delay per trip in a set (inf: cut off)."""
        after = {"walk": cache.walk_after, "subway": cache.subway_after}.get(mode)
        if mode == "bike" and cache.walk_after is not None:
            after = cache.walk_after * (WALK_KPH / BIKE_SPEED_KPH)
        if after is None:
            return np.zeros_like(before)
        return _delay(before, after)

    def _road_units(
        self,
        run: _Run,
        piece: Piece,
        cache: _SetCache,
        before: NDArray[np.float64],
        daily_car: NDArray[np.float64] | None,
        frac: float,
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Return the road trips' delay per trip in a piece and which of them wait (the rest detour)."""
        items, item_arcs, engine = run.items, run.item_arcs, run.engine
        n = len(before)
        queued = np.zeros((n, n), dtype=bool)
        if cache.car_after is None or cache.car_blocked is None:
            return np.zeros_like(before), queued
        unit = _delay(before, cache.car_after)
        held = [i for i in piece.active if item_arcs[i] is not None and items[i].window.seconds < DAY_S]
        if not held or daily_car is None:
            return unit, queued
        trees, nodes = self.trees(run.net, engine, run.towns)
        entry = trees.first_closed(cache.car_blocked, nodes)
        classes = self.arc_classes(engine)
        rates = daily_car * frac / piece.hours / CAR_OCCUPANCY  # vehicles per hour
        for arc in np.unique(entry[entry >= 0]).tolist():
            wins = [items[i].window for i in piece.active if (m := item_arcs[i]) is not None and m[arc]]
            span = closed_span(wins, piece.start_s)
            if span >= DAY_S or not span:
                continue
            oi, di = np.nonzero(entry == arc)
            # A trip with no way round weighs waiting against not travelling, priced as in geo.impact.
            choice = np.where(np.isinf(unit[oi, di]), CUT_OFF_HOURS * 3600.0, unit[oi, di])
            waits, w = wait_or_detour(rates[oi, di], choice, saturation_flow(classes[arc]), float(span))
            unit[oi[waits], di[waits]] = w
            queued[oi[waits], di[waits]] = True
        return unit, queued

    @staticmethod
    def _add(
        cost: ModeCost,
        trips: NDArray[np.float64],
        unit: NDArray[np.float64],
        queued: NDArray[np.bool_] | None,
        hour: int,
    ) -> None:
        """Add one piece's trips of a mode."""
        ok = np.isfinite(unit)
        person_s = np.where(ok, trips * np.where(ok, unit, 0.0), 0.0)
        q = person_s * queued if queued is not None else np.zeros_like(person_s)
        cost.trips += trips.sum(axis=1)
        cost.queue_s += q.sum(axis=1)
        cost.delay_s += (person_s - q).sum(axis=1)
        cost.cut_off += np.where(ok, 0.0, trips).sum(axis=1)
        cost.by_hour[hour] += float(person_s.sum() / 3600.0)
        for i in range(len(trips)):
            cost.values[i].append(np.where(ok[i], unit[i], np.nan))
            cost.weights[i].append(trips[i])

    def arc_classes(self, engine: RoutingEngine) -> list[str]:
        """Return each drive arc row's OSM class (from the engine's street labels), cached.

        Parameters
        ----------
        engine
            A drive engine.
        """
        text = engine._label_text
        return self.cached(
            ("classes", id(engine)), lambda: [text[c].split(SEP)[-1] for c in engine._labels["fastest"].tolist()]
        )

    # -- the closure-cost atlas -------------------------------------------------------------

    def link_detours(self, net: RoadNetwork, engine: RoutingEngine) -> NDArray[np.float64]:
        """Return every drive arc's way round (seconds longer; inf: none within the search limit), cached.

        Parameters
        ----------
        net
            The drive network.
        engine
            Its engine.
        """
        g = engine._csr["fastest"]
        return self.cached(
            ("detours", net.name, id(engine)),
            lambda: local_detours(g, np.arange(g.nnz, dtype=np.int64), limit_s=DETOUR_LIMIT_S),
        )


def _empty(mode: str, n: int) -> ModeCost:
    """Return a mode's cost with nothing in it yet, for ``n`` townships."""
    z = np.zeros
    return ModeCost(mode, z(n), z(n), z(n), z(n), z(24), [[] for _ in range(n)], [[] for _ in range(n)])


def _delay(before: NDArray[np.float64], after: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return after - before where both are finite (never negative), inf where a trip is cut off."""
    with np.errstate(invalid="ignore"):
        d = np.where(np.isfinite(after), np.maximum(after - before, 0.0), np.inf)
    return np.where(np.isfinite(before), d, 0.0)
