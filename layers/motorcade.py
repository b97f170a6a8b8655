"""Motorcades: a convoy's candidate routes, their rolling closure schedules and what the holds cost residents.

The candidates come from one search per trade-off (`geo.motorcade.TRADE_OFFS`) on the
routing engine, each minimising convoy time plus a weighted estimate of the residents'
cost (`geo.motorcade.arc_costs`); each candidate is then priced exactly from its schedule
(`geo.motorcade.price_hold`, with the ways round each crossing on the graph). The trips on
each arc are the event model's (`layers.eventimpact.EventModel.flows_per_person`: the
gravity model's trips between townships on their fastest routes, all-or-nothing), by the
hour of each hold (the travel model's profile) and mode (car and bus ride the roads).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from geo.assign import crossing_detours
from geo.engine_arrays import SEP
from geo.errors import InvalidInputError, NoRouteError, NotFoundError, OutsideCoverageError
from geo.eventtime import CAR_OCCUPANCY, DAY_S, saturation_flow
from geo.motorcade import (
    FLOW_CAP,
    MAX_CONVOYS,
    TRADE_OFFS,
    WIDE_CLASSES,
    Approaches,
    Convoy,
    Hold,
    HoldCost,
    arc_costs,
    holds_along,
    merge_holds,
    pareto,
    price_hold,
    search_multipliers,
)
from geo.network import CONNECTOR_CLASS, REGIONAL_CLASS
from layers.eventimpact import TravelModel
from layers.routing import Closures

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from geo.routes import Route
    from geo.routing import RoutingEngine
    from layers.impact import ImpactService, _Towns
    from layers.networks import RoadNetwork
    from layers.routing import Place, ResolvedPlace

__all__ = ["Candidate", "Motorcade", "MotorcadeAnswer", "MotorcadeService", "ProgrammeAnswer"]

DEFAULT_MAX_EXTRA_S = 600.0  # the recommendation's bound on extra convoy time over the fastest (a default, a choice)


@dataclass(frozen=True)
class Motorcade:
    """One convoy's trip: where, when, the convoy and its preferences.

    ``depart_s`` and ``arrive_by_s`` are clock seconds: given a departure, the convoy leaves
    then (an arrival time given too is a deadline each candidate meets or not); given only an
    arrival, each candidate leaves its own travel time before it.
    """

    origin: Place
    destination: Place
    depart_s: float | None = None
    arrive_by_s: float | None = None
    convoy: Convoy = field(default_factory=Convoy)
    avoid: Closures = field(default_factory=Closures)
    wide_weight: float = 0.0
    max_extra_s: float = DEFAULT_MAX_EXTRA_S
    travel: TravelModel = field(default_factory=TravelModel)
    label: str = "convoy"

    def __post_init__(self) -> None:
        """Refuse a trip with no time, or both times (the field named)."""
        if self.depart_s is None and self.arrive_by_s is None:
            raise InvalidInputError("`depart_at`: give `depart_at` or `arrive_by` (both: a departure and a deadline).")
        if self.depart_s is not None and self.arrive_by_s is not None and self.arrive_by_s <= self.depart_s:
            raise InvalidInputError("`arrive_by` is not after `depart_at`.")
        if not (np.isfinite(self.wide_weight) and 0.0 <= self.wide_weight <= 10.0):
            raise InvalidInputError("`wide_roads_weight` must be from 0 to 10.")
        if not (np.isfinite(self.max_extra_s) and 0.0 <= self.max_extra_s <= 4 * 3600):
            raise InvalidInputError("`max_extra_minutes` must be from 0 to 240.")


@dataclass(eq=False)
class Candidate:
    """A route priced from its schedule."""

    route: Route
    nodes: NDArray[np.int64]  # node indices
    at_s: NDArray[np.float64]  # clock time the convoy's head reaches each node
    depart_s: float
    arrive_s: float
    holds: list[HoldCost]
    wide_share: float  # of the convoy's time on expressways and trunk roads
    unknown_class_share: float  # on roads of no known class (the regional skeleton)
    kinds: list[str] = field(default_factory=list)
    by_town_persons: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    by_town_hours: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    @property
    def convoy_time_s(self) -> float:
        """Return the convoy's travel time, seconds."""
        return self.arrive_s - self.depart_s

    @property
    def person_hours(self) -> float:
        """Return the person-hours lost to its holds."""
        return sum(h.person_hours for h in self.holds)


@dataclass
class MotorcadeAnswer:
    """The candidates of one convoy's trip, the recommendation and what the model assumed."""

    trip: Motorcade
    net: RoadNetwork
    towns: _Towns
    candidates: list[Candidate]
    recommended: int
    reason: str
    warnings: list[str]


@dataclass
class ProgrammeAnswer:
    """Several convoys together: each one's chosen candidate, the merged holds and their cost."""

    answers: list[MotorcadeAnswer]
    chosen: list[Candidate]
    holds: list[HoldCost]
    apart_person_hours: float  # the convoys priced one by one, summed
    by_town_persons: NDArray[np.float64]
    by_town_hours: NDArray[np.float64]

    @property
    def person_hours(self) -> float:
        """Return the programme's person-hours lost (overlapping holds merged)."""
        return sum(h.person_hours for h in self.holds)


class MotorcadeService:
    """Motorcade candidates and programmes over an `ImpactService`'s networks, townships and event model.

    Parameters
    ----------
    impact
        The impact service.
    """

    def __init__(self, impact: ImpactService) -> None:
        self.impact = impact
        self.event = impact.event
        self._lock = threading.Lock()
        self._ways: dict[tuple[str, int, int], tuple[float, dict[int, NDArray[np.float64]]]] = {}

    # -- the network's approaches ------------------------------------------------------------

    def approaches(self, net: RoadNetwork, engine: RoutingEngine, travel: TravelModel) -> Approaches:
        """Return the drive arcs as approaches, with the travel model's car and bus trips on each.

        What depends on the network alone is built once per network; the travel model (any
        request's own) only scales the per-person flows, so nothing per request is kept.

        Parameters
        ----------
        net
            The drive network.
        engine
            Its engine.
        travel
            Who travels.
        """
        base, per_person = self._network_approaches(net, engine)
        rate = self.event.trips_per_person(travel)
        return dataclasses.replace(
            base,
            car_trips=per_person * rate * travel.shares.get("car", 0.0),
            bus_trips=per_person * rate * travel.shares.get("bus", 0.0),
            profile=travel.hourly(),
        )

    def _network_approaches(self, net: RoadNetwork, engine: RoutingEngine) -> tuple[Approaches, NDArray[np.float64]]:
        """Return a network's approaches with no trips yet, and its arcs' trips per person-trip (cached)."""

        def make() -> tuple[Approaches, NDArray[np.float64]]:
            classes = self.event.arc_classes(engine)
            src = np.asarray(engine._src["fastest"], dtype=np.int64)
            dst = np.asarray(engine._dst["fastest"], dtype=np.int64)
            n = len(engine.node_ids)
            pairs = np.unique(np.minimum(src, dst) * n + np.maximum(src, dst))
            degree = np.bincount(pairs // n, minlength=n) + np.bincount(pairs % n, minlength=n)
            zero = np.zeros(len(src))
            base = Approaches(
                src=src,
                dst=dst,
                time_s=np.asarray(engine._time["fastest"], dtype=float),
                car_trips=zero,
                bus_trips=zero,
                saturation=np.array([saturation_flow(c) for c in classes]),
                wide=np.array([c in WIDE_CLASSES for c in classes]),
                crossing=degree >= 3,
                profile=np.full(24, 1 / 24),
                occupancy=CAR_OCCUPANCY,
                classless=np.array([c in (REGIONAL_CLASS, CONNECTOR_CLASS) for c in classes]),
            )
            return base, self.event.flows_per_person(net, engine, self.impact.towns(net))

        return self.event.cached(("motorcade-approaches", net.name, id(engine)), make)

    def _loads(self, net: RoadNetwork, engine: RoutingEngine, towns: _Towns) -> NDArray[np.float64]:
        """Return per township and node the trips (one per resident) crossing the tree arc into it (cached)."""
        trees, nodes = self.event.trees(net, engine, towns)
        demand = self.event.demand_per_person(net, engine, towns)
        return self.event.cached(("motorcade-loads", net.name, id(engine)), lambda: trees.loads(demand, nodes))

    def _detours(
        self, engine: RoutingEngine, node: int, rows: NDArray[np.int64], limit_s: float
    ) -> dict[int, NDArray[np.float64]]:
        """Return the ways round a crossing from each approach, kept per node (one entry per node at most).

        A search to a farther limit decides the same: a way round beyond ``limit_s`` is longer
        than any wait (see `price`), so the answer kept for a larger limit serves a smaller one.
        """
        key = ("motorcade-detours", id(engine), node)
        with self._lock:
            hit = self._ways.get(key)
        if hit is None or hit[0] < limit_s:
            hit = (limit_s, crossing_detours(engine._csr["fastest"], node, rows, limit_s=limit_s))
            with self._lock:
                self._ways[key] = hit
        return hit[1]

    # -- one trip ------------------------------------------------------------------------------

    def plan(self, trip: Motorcade, *, network: str | None = None) -> MotorcadeAnswer:
        """Return a trip's candidates (fastest, cheapest for residents, the trade-offs between) priced.

        Parameters
        ----------
        trip
            The convoy's trip.
        network
            A drive network name (None: the one holding both ends, the central one first).
        """
        a, b = self._ends(trip, network)
        net = a.network
        engine = self.impact.routing.engine(net)
        app = self.approaches(net, engine, trip.travel)
        towns = self.impact.towns(net)
        blocked = self.impact.routing._blocked(engine, net, trip.avoid, "fastest")
        for i in range(len(trip.avoid.areas)):
            shut = self.impact.routing.closed_edges(net, trip.avoid.single(i))
            for p, side in ((a, "origin"), (b, "destination")):
                if (p.snap.u, p.snap.v) in shut:
                    raise InvalidInputError(
                        f"`avoid_areas[{i}]` cuts the {side} ({p.label}) off: it lies on a road inside the area; "
                        "draw the area clear of it."
                    )
        start = trip.depart_s if trip.depart_s is not None else float(trip.arrive_by_s or 0.0)
        costs = arc_costs(app, trip.convoy.hold_s, int(start // 3600))
        routes: dict[tuple[int, ...], Route] = {}
        for lam in TRADE_OFFS:
            # The first is the engine's own fastest route (with the avoid-areas), as /routes gives it.
            plain = lam == 0.0 and trip.wide_weight == 0.0
            mult = None if plain else search_multipliers(app, costs, lam, trip.wide_weight)
            try:
                r = engine.route(a.snap, b.snap, metric="fastest", blocked=blocked, penalty=mult)
            except NoRouteError as exc:
                raise NoRouteError(
                    f"`avoid_areas` leave no drive route between {a.label} and {b.label}: shrink or move them."
                ) from exc
            routes.setdefault(r.edge_rows, r)
        cands = [self._price(net, engine, app, towns, r, trip) for r in routes.values()]
        return self._choose(trip, net, towns, cands)

    def _ends(self, trip: Motorcade, network: str | None) -> tuple[ResolvedPlace, ResolvedPlace]:
        routing = self.impact.routing
        a, b = routing.resolve_all([trip.origin, trip.destination], mode="drive", labels=["origin", "destination"])
        if network is not None and a.network.name != network:
            net = routing.networks.get(network, "drive")
            a, b = (
                routing.resolve(p, mode="drive", label=lbl, network=net)
                for p, lbl in ((trip.origin, "origin"), (trip.destination, "destination"))
            )
        routing._same_network([a, b])
        if a.snap == b.snap or (a.site_id is not None and a.site_id == b.site_id):
            raise InvalidInputError(f"`origin` and `destination` are the same place ({a.label}); give two places.")
        return a, b

    def _price(
        self, net: RoadNetwork, engine: RoutingEngine, app: Approaches, towns: _Towns, route: Route, trip: Motorcade
    ) -> Candidate:
        """Return a route priced from its schedule (its holds' costs, by township)."""
        nodes = np.array([engine.index[v] for v in route.nodes], dtype=np.int64)
        rows = np.asarray(route.edge_rows, dtype=np.int64)
        times = np.asarray(route.edge_times_s, dtype=float)
        if trip.convoy.speed_kph is not None:
            times = np.asarray(route.edge_lengths_m, dtype=float) / (trip.convoy.speed_kph / 3.6)
        total = float(route.travel_time_s - sum(route.edge_times_s) + times.sum())
        depart = trip.depart_s if trip.depart_s is not None else float(trip.arrive_by_s or 0.0) - total
        at = depart + route.head_time_s + np.concatenate([[0.0], np.cumsum(times)])
        holds = merge_holds(holds_along(nodes.tolist(), rows.tolist(), at.tolist(), app.crossing, trip.convoy))
        priced = self.price(engine, app, holds)
        total_s = float(times.sum())
        wide = float(times[app.wide[rows]].sum()) / total_s if total_s > 0 else 0.0
        classless = app.classless if app.classless is not None else np.zeros(len(app.dst), dtype=bool)
        unknown = float(times[classless[rows]].sum()) / total_s if total_s > 0 else 0.0
        cand = Candidate(route, nodes, at, depart, depart + total, priced, wide, unknown)
        cand.by_town_persons, cand.by_town_hours = self.by_township(net, engine, towns, priced)
        return cand

    def price(self, engine: RoutingEngine, app: Approaches, holds: list[Hold]) -> list[HoldCost]:
        """Return each hold priced (the ways round each crossing searched as far as a wait can last).

        Parameters
        ----------
        engine
            The drive engine.
        app
            Its approaches.
        holds
            Merged holds.
        """
        out = []
        for h in holds:
            rows = app.into(h.node)
            # No trip detours further than the longest wait (the flow is capped at FLOW_CAP).
            limit = float(app.time_s[rows].max()) * 2 + h.seconds / (2.0 * (1.0 - FLOW_CAP)) + 1.0
            out.append(price_hold(app, h, self._detours(engine, h.node, rows, limit)))
        return out

    def by_township(
        self, net: RoadNetwork, engine: RoutingEngine, towns: _Towns, holds: list[HoldCost]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return per assessed township the persons who meet the holds and their person-hours (by trip origin).

        Parameters
        ----------
        net
            The drive network.
        engine
            Its engine.
        towns
            Its assessed townships.
        holds
            Priced holds.
        """
        persons = np.zeros(len(towns.rows))
        hours = np.zeros(len(towns.rows))
        rows = np.concatenate([h.rows for h in holds]) if holds else np.empty(0, dtype=np.int64)
        if not len(rows):
            return persons, hours
        trees, _ = self.event.trees(net, engine, towns)
        app_dst = np.asarray(engine._dst["fastest"], dtype=np.int64)
        split = trees.by_origin(self._loads(net, engine, towns), rows, app_dst[rows])
        tot = split.sum(axis=0)
        share = np.divide(split, tot, out=np.zeros_like(split), where=tot > 0)
        met = np.concatenate([h.persons for h in holds])
        lost = np.concatenate([(h.queue_s + h.detour_s) / 3600.0 for h in holds])
        return share @ met, share @ lost

    def _choose(self, trip: Motorcade, net: RoadNetwork, towns: _Towns, cands: list[Candidate]) -> MotorcadeAnswer:
        """Label the candidates (fastest, cheapest, Pareto) and pick the recommended one."""
        fastest = min(range(len(cands)), key=lambda i: (cands[i].convoy_time_s, cands[i].person_hours))
        cheapest = min(range(len(cands)), key=lambda i: (cands[i].person_hours, cands[i].convoy_time_s))
        front = pareto([(c.convoy_time_s, c.person_hours) for c in cands])
        keep = sorted(set(front) | {fastest, cheapest}, key=lambda i: cands[i].convoy_time_s)
        for i in keep:
            c = cands[i]
            c.kinds = [
                k for k, ok in (("fastest", i == fastest), ("cheapest", i == cheapest), ("pareto", i in front)) if ok
            ]
        out = [cands[i] for i in keep]
        f = cands[fastest]
        within = [c for c in out if c.convoy_time_s <= f.convoy_time_s + trip.max_extra_s]
        best = min(within, key=lambda c: (c.person_hours, c.convoy_time_s))
        if best is f:
            reason = (
                "the fastest route is also the cheapest for residents within "
                f"{trip.max_extra_s / 60:g} extra minutes of convoy time"
            )
        else:
            reason = (
                f"saves {f.person_hours - best.person_hours:.1f} person-hours of residents' time over the fastest "
                f"({f.person_hours:.1f} → {best.person_hours:.1f}) for {(best.convoy_time_s - f.convoy_time_s) / 60:.1f} "
                f"more minutes of convoy time (within the {trip.max_extra_s / 60:g} allowed)"
            )
        warnings = list(self.impact.routing.precision_warnings(net))
        capped = sum(h.capped for c in out for h in c.holds)
        if capped:
            warnings.append(
                f"{capped} held approaches carry more assigned traffic than they can discharge; their flow is taken at "
                f"{FLOW_CAP:.0%} of saturation (all-or-nothing assignment overloads them; see the manual, Motorcades)."
            )
        return MotorcadeAnswer(trip, net, towns, out, out.index(best), reason, warnings)

    # -- programmes ----------------------------------------------------------------------------

    def programme(
        self, trips: list[Motorcade], choices: list[str | int], *, network: str | None = None, field: str = "convoys"
    ) -> ProgrammeAnswer:
        """Return several convoys evaluated together: holds of one crossing that overlap (or leave too short a release) merged.

        Parameters
        ----------
        trips
            The convoys' trips (at most `geo.motorcade.MAX_CONVOYS`).
        choices
            Per trip, which candidate: ``"recommended"``, ``"fastest"``, ``"cheapest"`` or an index.
        network
            A drive network name (None: each trip's own).
        field
            The request's name for the list of convoys (named in errors).
        """
        if not 1 <= len(trips) <= MAX_CONVOYS:
            raise InvalidInputError(f"`{field}` must hold 1 to {MAX_CONVOYS} convoys; got {len(trips)}.")
        answers = []
        for i, t in enumerate(trips):
            try:
                answers.append(self.plan(t, network=network))
            except (InvalidInputError, NotFoundError, OutsideCoverageError, NoRouteError) as exc:
                raise type(exc)(f"`{field}[{i}]`: {exc}") from exc  # which convoy, in the request's words
        nets = {a.net.name for a in answers}
        if len(nets) > 1:
            raise InvalidInputError(
                f"the {field} lie on different networks ({', '.join(sorted(nets))}); give `network`."
            )
        chosen = [_pick(a, c, f"{field}[{i}]") for i, (a, c) in enumerate(zip(answers, choices, strict=True))]
        net, towns = answers[0].net, answers[0].towns
        engine = self.impact.routing.engine(net)
        app = self.approaches(net, engine, trips[0].travel)
        everyone = []
        for i, (c, t) in enumerate(zip(chosen, trips, strict=True)):
            rows = list(c.route.edge_rows)
            for h in holds_along(c.nodes.tolist(), rows, c.at_s.tolist(), app.crossing, t.convoy):
                everyone.append(Hold(h.node, h.start_s, h.end_s, h.own, (i,), h.arrive_s))
        holds = self.price(engine, app, merge_holds(everyone))
        persons, hours = self.by_township(net, engine, towns, holds)
        return ProgrammeAnswer(answers, chosen, holds, sum(c.person_hours for c in chosen), persons, hours)


def _pick(answer: MotorcadeAnswer, choice: str | int, where: str) -> Candidate:
    """Return the candidate a programme takes for one convoy."""
    cands = answer.candidates
    if choice == "recommended":
        return cands[answer.recommended]
    if isinstance(choice, str):
        hit = [c for c in cands if choice in c.kinds]
        if not hit:
            raise InvalidInputError(f"`{where}.choose` must be recommended, fastest, cheapest or an index.")
        return hit[0]
    if not 0 <= choice < len(cands):
        raise InvalidInputError(
            f"`{where}.choose` is {choice}; that trip has {len(cands)} candidates (0-{len(cands) - 1})."
        )
    return cands[choice]


def crossing_streets(engine: RoutingEngine, rows: NDArray[np.int64]) -> list[str]:
    """Return the distinct street names of arc rows (unnamed roads by their class).

    Parameters
    ----------
    engine
        The drive engine.
    rows
        Arc rows.
    """
    text = engine._label_text
    out: list[str] = []
    for c in engine._labels["fastest"][rows].tolist():
        name, cls = text[c].split(SEP)
        label = name or f"({cls})"
        if label not in out:
            out.append(label)
    return out


def clock(s: float) -> str:
    """Return clock seconds as ``HH:MM:SS`` (past midnight: ``+1d``).

    Parameters
    ----------
    s
        Seconds after midnight of the trip's day.
    """
    day, rest = divmod(round(s), DAY_S)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return text + (f" {day:+d}d" if day else "")
