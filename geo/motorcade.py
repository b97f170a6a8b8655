"""Motorcade routes and their rolling closure schedules: what each held crossing costs the people who meet it.

Rolling control holds each crossing of the convoy's route only while the convoy passes.
The constants below are the model's; each names its source, or says it has none.

- `CONVOY_VEHICLES` and `REPORTED_PASSAGE_S`: a convoy of about 25 vehicles cleared Dongdan
  in 44 s, and `MIN_RELEASE_S`: cross traffic is released for at least 40 s between two holds
  of one crossing. Both are Beijing's rolling-control practice since 2013 as issue 27 reports
  it; the original press report is not among the shipped sources. The passage time scales
  with the vehicles (`PASSAGE_S_PER_VEHICLE`: the same spacing in time, an assumption).
- `HOLD_BEFORE_S` and `HOLD_AFTER_S`, 0 s: the practice holds a crossing only while the convoy
  passes; a planner adds margins per request.
- `FLOW_CAP`: all-or-nothing assignment loads some approaches past their saturation flow; an
  approach's flow is taken at most at 95 % of it, so that the queue clears (a bound, no
  source; the answer counts the approaches it applied to).
- `WIDE_CLASSES`: expressways and trunk roads (OSM ``motorway``, ``trunk`` and their links).
- Turns: the trips on an approach go on along each of the crossing's other exits in equal
  shares (the data has no turning counts; an assumption).

A hold of length T at a crossing stops every approach but the convoy's own (its road
behind it is cleared ahead and follows it; oncoming traffic is held at the crossing). The
trips on an approach with car flow q (vehicles/h) and saturation flow s either wait, T/(2(1 -
q/s)) each on average (`geo.eventtime.wait_or_detour`, the deterministic queue), or take the
fastest way round the crossing to their exit, whichever is less. Links between crossings
are listed with their clock times but cost nothing here (no one crosses them).
Everything here is pure: numbers and arrays in, out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from geo.errors import InvalidInputError
from geo.eventtime import wait_or_detour

__all__ = [
    "CONVOY_VEHICLES",
    "FLOW_CAP",
    "HOLD_AFTER_S",
    "HOLD_BEFORE_S",
    "MAX_CONVOYS",
    "MAX_HOLD_S",
    "MIN_RELEASE_S",
    "PASSAGE_S_PER_VEHICLE",
    "REPORTED_PASSAGE_S",
    "TRADE_OFFS",
    "WIDE_CLASSES",
    "Approaches",
    "Convoy",
    "Hold",
    "HoldCost",
    "arc_costs",
    "holds_along",
    "merge_holds",
    "pareto",
    "price_hold",
    "search_multipliers",
]

CONVOY_VEHICLES = 25  # vehicles of a state visit's convoy (issue 27: Beijing's practice since 2013)
REPORTED_PASSAGE_S = 44.0  # those 25 vehicles cleared Dongdan in 44 s (same report)
PASSAGE_S_PER_VEHICLE = REPORTED_PASSAGE_S / CONVOY_VEHICLES  # the same spacing in time: an assumption
MIN_RELEASE_S = 40.0  # cross traffic released at least this long between two holds (same report)
HOLD_BEFORE_S = 0.0  # the practice holds a crossing only while the convoy passes (same report)
HOLD_AFTER_S = 0.0  # likewise (same report): no margin after the convoy has passed
MAX_HOLD_S = 1800.0  # a hold over 30 minutes is refused (issue 27's bound on bad input; a limit, not data)
MAX_CONVOYS = 10  # convoys in one programme (issue 27; a limit)
MAX_VEHICLES = 500  # vehicles of one convoy (a limit on bad input, not data)
FLOW_CAP = 0.95  # an approach's flow at most this share of its saturation flow (a bound, no source)
WIDE_CLASSES = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})
# Convoy seconds one person-second of residents' time is worth, for the candidates between the
# fastest route and the cheapest (a weighted-sum scan of the trade-off; search settings, not data).
TRADE_OFFS = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 1.0)
MAX_MULTIPLIER = 500.0  # an arc's search weight at most this many times its time (keeps the CCH's integers in range)


@dataclass(frozen=True)
class Convoy:
    """A convoy: its vehicles, an optional steady speed, and the margins of each hold."""

    vehicles: int = CONVOY_VEHICLES
    speed_kph: float | None = None  # None: the roads' own speeds (the engine's times)
    hold_before_s: float = HOLD_BEFORE_S
    hold_after_s: float = HOLD_AFTER_S

    def __post_init__(self) -> None:
        """Refuse a convoy that cannot be (the field named)."""
        if (
            isinstance(self.vehicles, bool)
            or not isinstance(self.vehicles, int)
            or not 1 <= self.vehicles <= MAX_VEHICLES
        ):
            raise InvalidInputError(f"`convoy.vehicles` must be a whole number from 1 to {MAX_VEHICLES}.")
        if self.speed_kph is not None and not (np.isfinite(self.speed_kph) and 5.0 <= self.speed_kph <= 150.0):
            raise InvalidInputError("`convoy.speed_kph` must be from 5 to 150 km/h (or left out: the roads' speeds).")
        for name in ("hold_before_s", "hold_after_s"):
            v = getattr(self, name)
            if not np.isfinite(v) or not 0.0 <= v <= MAX_HOLD_S:
                raise InvalidInputError(f"`{name}` must be from 0 to {MAX_HOLD_S:g} s; got {v!r}.")
        if self.hold_s > MAX_HOLD_S:
            raise InvalidInputError(
                f"a hold lasts {self.hold_s:g} s (before + passage + after); a hold lasts at most {MAX_HOLD_S:g} s."
            )

    @property
    def passage_s(self) -> float:
        """Return how long the convoy takes to pass a point, seconds."""
        return self.vehicles * PASSAGE_S_PER_VEHICLE

    @property
    def hold_s(self) -> float:
        """Return how long each crossing is held, seconds."""
        return self.hold_before_s + self.passage_s + self.hold_after_s


@dataclass(frozen=True)
class Hold:
    """A crossing held from ``start_s`` to ``end_s`` (clock seconds), all approaches but ``own``."""

    node: int  # node index of the graph
    start_s: float
    end_s: float
    own: frozenset[int]  # arc rows the convoys arrive on (not held)
    convoys: tuple[int, ...] = (0,)
    arrive_s: float = 0.0  # when the (first) convoy's head reaches it

    @property
    def seconds(self) -> float:
        """Return the hold's length, seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Approaches:
    """A drive graph's arcs as approaches to crossings, with their trips.

    Arc rows are the rows of the engine's arrays (one per node pair). ``car_trips`` and
    ``bus_trips`` are person trips per weekday on each arc; ``profile`` the share of them in
    each hour; ``occupancy`` persons per car.
    """

    src: NDArray[np.int64]
    dst: NDArray[np.int64]
    time_s: NDArray[np.float64]
    car_trips: NDArray[np.float64]
    bus_trips: NDArray[np.float64]
    saturation: NDArray[np.float64]  # vehicles per hour
    wide: NDArray[np.bool_]
    crossing: NDArray[np.bool_]  # per node: another road meets the convoy's there
    profile: NDArray[np.float64]
    occupancy: float
    classless: NDArray[np.bool_] | None = None  # per arc: its road class is not known (None: every class known)
    # The arcs by head node, made from ``dst`` unless given (`dataclasses.replace` passes them on).
    order: NDArray[np.int64] | None = field(default=None, repr=False)
    ptr: NDArray[np.int64] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Index the arcs by head node (unless already indexed)."""
        if self.classless is None:
            object.__setattr__(self, "classless", np.zeros(len(self.dst), dtype=bool))
        if self.order is None or self.ptr is None:
            order = np.argsort(self.dst, kind="stable").astype(np.int64)
            object.__setattr__(self, "order", order)
            object.__setattr__(self, "ptr", np.searchsorted(self.dst[order], np.arange(len(self.crossing) + 1)))

    def into(self, node: int) -> NDArray[np.int64]:
        """Return the arc rows into a node.

        Parameters
        ----------
        node
            A node index.
        """
        assert self.order is not None
        assert self.ptr is not None
        return self.order[self.ptr[node] : self.ptr[node + 1]]

    def rates(self, rows: NDArray[np.int64], hour: int) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
        """Return per arc: cars per hour (capped, see `FLOW_CAP`), persons per hour, and how many were capped.

        Parameters
        ----------
        rows
            Arc rows.
        hour
            The hour of the day (0-23).
        """
        share = float(self.profile[hour % 24])
        cars = self.car_trips[rows] * share / self.occupancy
        cap = FLOW_CAP * self.saturation[rows]
        persons = (self.car_trips[rows] + self.bus_trips[rows]) * share
        return np.minimum(cars, cap), persons, int(np.count_nonzero(cars > cap))


@dataclass(frozen=True)
class HoldCost:
    """What one hold costs: per held approach (arc row) the persons who meet it and their seconds."""

    hold: Hold
    rows: NDArray[np.int64]
    persons: NDArray[np.float64]  # persons arriving while it is held
    queue_s: NDArray[np.float64]  # person-seconds waiting
    detour_s: NDArray[np.float64]  # person-seconds of ways round
    capped: int  # approaches whose flow was capped at `FLOW_CAP`

    @property
    def person_hours(self) -> float:
        """Return the person-hours lost at this hold."""
        return float((self.queue_s.sum() + self.detour_s.sum()) / 3600.0)


def holds_along(
    nodes: Sequence[int], rows: Sequence[int], at_s: Sequence[float], crossing: NDArray[np.bool_], convoy: Convoy
) -> list[Hold]:
    """Return the holds of a route's crossings (its two ends are not held).

    Parameters
    ----------
    nodes
        The route's node indices, in order.
    rows
        The arc rows between them (``len(nodes) - 1``).
    at_s
        The clock time the convoy's head reaches each node, seconds.
    crossing
        Per node index, whether it is a crossing.
    convoy
        The convoy.
    """
    out = []
    for k in range(1, len(nodes) - 1):
        v = int(nodes[k])
        if crossing[v]:
            t = float(at_s[k])
            out.append(
                Hold(
                    v,
                    t - convoy.hold_before_s,
                    t + convoy.passage_s + convoy.hold_after_s,
                    frozenset({int(rows[k - 1])}),
                    (0,),
                    t,
                )
            )
    return out


def merge_holds(holds: Sequence[Hold], min_release_s: float = MIN_RELEASE_S) -> list[Hold]:
    """Return the holds with those of one crossing merged where they overlap or leave under ``min_release_s`` between.

    Approaches stay open in a merged hold only where every convoy in it arrives on them.

    Parameters
    ----------
    holds
        Holds, of one convoy or several.
    min_release_s
        The least time cross traffic is released between two holds.
    """
    by_node: dict[int, list[Hold]] = {}
    for h in holds:
        by_node.setdefault(h.node, []).append(h)
    out = []
    for node, hs in by_node.items():
        hs.sort(key=lambda h: h.start_s)
        cur = hs[0]
        for h in hs[1:]:
            if h.start_s - cur.end_s < min_release_s:
                cur = Hold(
                    node,
                    cur.start_s,
                    max(cur.end_s, h.end_s),
                    cur.own & h.own,
                    tuple(sorted(set(cur.convoys) | set(h.convoys))),
                    min(cur.arrive_s, h.arrive_s),
                )
            else:
                out.append(cur)
                cur = h
        out.append(cur)
    return sorted(out, key=lambda h: (h.start_s, h.node))


def price_hold(app: Approaches, hold: Hold, detours: dict[int, NDArray[np.float64]]) -> HoldCost:
    """Return what a hold costs the trips on its held approaches.

    Each approach's trips split equally over its exits; each share waits or takes its way
    round, whichever is less (`geo.eventtime.wait_or_detour`, all the shares of one approach
    in one queue). The hour of the hold's start sets the flows.

    Parameters
    ----------
    app
        The graph's approaches.
    hold
        The hold.
    detours
        Per held approach row, the way round the crossing to each of its exits, seconds
        longer than through it (inf: none within the search's limit; none: no exit).
    """
    rows = np.array([r for r in app.into(hold.node).tolist() if r not in hold.own], dtype=np.int64)
    t = hold.seconds
    cars, persons, capped = app.rates(rows, int(hold.start_s // 3600))
    met = persons * t / 3600.0
    queue = np.zeros(len(rows))
    detour = np.zeros(len(rows))
    for i, r in enumerate(rows.tolist()):
        d = detours.get(r, np.empty(0))
        if len(d) == 0 or met[i] <= 0.0:
            continue
        k = len(d)
        waits, w = wait_or_detour(np.full(k, cars[i] / k), d, float(app.saturation[r]), t)
        queue[i] = met[i] / k * w * int(waits.sum())
        detour[i] = met[i] / k * float(d[~waits].sum())
    return HoldCost(hold, rows, met, queue, detour, capped)


def arc_costs(app: Approaches, hold_s: float, hour: int) -> NDArray[np.float64]:
    """Return, per arc row, the person-seconds a convoy arriving along it costs the crossing at its head (waits only).

    The search's estimate: every held approach waits (no ways round), at the flows of one
    hour; `price_hold` prices a chosen route exactly.

    Parameters
    ----------
    app
        The graph's approaches.
    hold_s
        How long each crossing is held, seconds.
    hour
        The hour of the day.
    """
    rows = np.arange(len(app.dst), dtype=np.int64)
    cars, persons, _ = app.rates(rows, hour)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(app.saturation > 0, hold_s / (2.0 * (1.0 - cars / app.saturation)), 0.0)
    each = persons * hold_s / 3600.0 * wait
    at_node = np.bincount(app.dst, weights=each, minlength=len(app.crossing))
    return np.where(app.crossing[app.dst], at_node[app.dst] - each, 0.0)


def search_multipliers(
    app: Approaches, costs: NDArray[np.float64], trade_off: float, wide_weight: float
) -> NDArray[np.float64]:
    """Return per arc row the multiplier of its time for one candidate's search.

    The search minimises time x (1 + ``wide_weight`` off wide roads) + ``trade_off`` x the
    residents' person-seconds of `arc_costs`.

    Parameters
    ----------
    app
        The graph's approaches.
    costs
        `arc_costs`.
    trade_off
        Convoy seconds per person-second.
    wide_weight
        The extra share of time charged off the wide roads (0: no preference).
    """
    base = np.where(app.wide, 1.0, 1.0 + wide_weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = np.where(app.time_s > 0, trade_off * costs / app.time_s, 0.0)
    return np.minimum(base + extra, MAX_MULTIPLIER)


def pareto(points: Sequence[tuple[float, float]]) -> list[int]:
    """Return the indices of the points no other point beats on both figures (both minimised), by the first.

    Parameters
    ----------
    points
        (convoy seconds, person-hours) per candidate.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    out: list[int] = []
    best = float("inf")
    for i in order:
        if points[i][1] < best:
            out.append(i)
            best = points[i][1]
    return out
