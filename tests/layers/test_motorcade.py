"""Motorcades on the shipped data, checked against independent computations (networkx, brute force)."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from api.context import Context
from geo.eventtime import CAR_OCCUPANCY, saturation_flow
from geo.motorcade import FLOW_CAP, Convoy
from layers.eventimpact import TravelModel
from layers.motorcade import Candidate, Motorcade, MotorcadeAnswer

DIAOYUTAI = (116.3056, 39.9236)  # Diaoyutai State Guesthouse's east gate (OSM)
NINE = 9 * 3600.0  # the tests' departure, 09:00 (a chosen time, not data)


@pytest.fixture(scope="module")
def palace_to_summer(ctx: Context) -> MotorcadeAnswer:
    return ctx.impact.motorcades.plan(Motorcade("forbidden-city", "summer-palace", depart_s=NINE))


def test_the_cheapest_is_never_costlier_nor_faster_than_the_fastest(
    ctx: Context, palace_to_summer: MotorcadeAnswer
) -> None:
    for ans in (palace_to_summer, ctx.impact.motorcades.plan(Motorcade("capital-airport", DIAOYUTAI, depart_s=NINE))):
        fastest = next(c for c in ans.candidates if "fastest" in c.kinds)
        cheapest = next(c for c in ans.candidates if "cheapest" in c.kinds)
        assert cheapest.person_hours <= fastest.person_hours
        assert cheapest.convoy_time_s >= fastest.convoy_time_s
        assert len(ans.candidates) >= 2
        # The fastest is the engine's own fastest route, as /routes gives it.
        plain = ctx.routing.routes("forbidden-city", "summer-palace")[0][0] if ans is palace_to_summer else None
        if plain is not None:
            assert fastest.route.travel_time_s == pytest.approx(plain.travel_time_s, abs=1e-6)
            assert fastest.route.length_m == pytest.approx(plain.length_m, abs=1e-3)


def _equilibrium_cost(rates: list[float], detours: list[float], s: float, t: float) -> set[float]:
    """Every equilibrium's mean seconds per trip, by brute force over who waits (the rest go round)."""
    out = set()
    n = len(rates)
    for waits in itertools.product((False, True), repeat=n):
        q = sum(r for r, w in zip(rates, waits, strict=True) if w)
        if q >= s:
            continue
        wait = t / (2 * (1 - q / s))
        ok = all(d >= wait for d, w in zip(detours, waits, strict=True) if w)
        for i in range(n):
            if not waits[i]:
                joined = q + rates[i]
                ok &= joined >= s or detours[i] <= t / (2 * (1 - joined / s))
        if ok:
            out.add(round(sum((wait if w else d) for d, w in zip(detours, waits, strict=True)) / n, 6))
    return out


def _recompute(ctx: Context, ans: MotorcadeAnswer, c: Candidate) -> float:
    """A candidate's person-hours from its schedule alone: networkx ways round, the queue formula, brute force."""
    net = ans.net
    g = net.graph
    eng = ctx.routing.engine(net)
    travel = TravelModel()
    towns = ctx.impact.towns(net)
    per_person = ctx.impact.event.flows_per_person(net, eng, towns)  # the model's link flows (its input)
    rate = ctx.impact.event.trips_per_person(travel)
    classes = ctx.impact.event.arc_classes(eng)
    profile = travel.hourly()
    ids = eng.node_ids
    src, dst = eng._src["fastest"], eng._dst["fastest"]
    row_of = {(int(ids[a]), int(ids[b])): r for r, (a, b) in enumerate(zip(src.tolist(), dst.tolist(), strict=True))}
    pair_time = {}
    for u, v, d in g.edges(data=True):
        pair_time[(u, v)] = min(pair_time.get((u, v), np.inf), float(d["travel_time_s"]))
    route_nodes = [int(ids[k]) for k in c.nodes.tolist()]
    total = 0.0
    for h in c.holds:
        node = int(ids[h.hold.node])
        k = route_nodes.index(node)
        own = route_nodes[k - 1]
        view = nx.restricted_view(g, [node], [])
        share = profile[int(h.hold.start_s // 3600)]
        for u in set(g.predecessors(node)) - {own}:
            r = row_of[(u, node)]
            cars = per_person[r] * rate * travel.shares["car"] * share / CAR_OCCUPANCY
            s = saturation_flow(classes[r])
            cars = min(cars, FLOW_CAP * s)
            persons = (
                per_person[r] * rate * (travel.shares["car"] + travel.shares["bus"]) * share * h.hold.seconds / 3600
            )
            exits = [x for x in g.successors(node) if x != u]
            if not exits or persons <= 0:
                continue
            reach = nx.single_source_dijkstra_path_length(view, u, cutoff=3600, weight="travel_time_s")
            detours = [
                max(0.0, reach[x] - pair_time[(u, node)] - pair_time[(node, x)]) if x in reach else np.inf
                for x in exits
            ]
            means = _equilibrium_cost([cars / len(exits)] * len(exits), detours, s, h.hold.seconds)
            # The model's choice is one of the equilibria (brute force may find several).
            mine = (h.queue_s[h.rows == r].sum() + h.detour_s[h.rows == r].sum()) / persons
            assert min(abs(mine - m) for m in means) < 1e-3, (mine, means)
            total += persons * mine
    return total / 3600


def test_each_candidates_cost_recomputed_from_its_schedule(ctx: Context, palace_to_summer: MotorcadeAnswer) -> None:
    for c in palace_to_summer.candidates:
        assert _recompute(ctx, palace_to_summer, c) == pytest.approx(c.person_hours, rel=1e-6)
        assert c.person_hours > 0
    # ... and the townships' shares add up to the whole.
    c = palace_to_summer.candidates[0]
    assert c.by_town_hours.sum() == pytest.approx(c.person_hours, rel=1e-6)
    assert c.by_town_persons.sum() == pytest.approx(sum(h.persons.sum() for h in c.holds), rel=1e-6)


def test_the_rolling_schedule_follows_the_routes_times(ctx: Context) -> None:
    convoy = Convoy(vehicles=30, hold_before_s=30.0, hold_after_s=10.0)
    ans = ctx.impact.motorcades.plan(Motorcade("forbidden-city", "summer-palace", depart_s=NINE, convoy=convoy))
    g = ans.net.graph
    ids = ctx.routing.engine(ans.net).node_ids
    for c in ans.candidates:
        # The clock at each node: the departure, the first part-edge, then the graph's own edge times.
        at = NINE + c.route.head_time_s
        when = {c.route.nodes[0]: at}
        for u, v, key in c.route.edges:
            at += float(g.edges[u, v, key]["travel_time_s"])
            when.setdefault(v, at)
        for h in c.holds:
            node = int(ids[h.hold.node])
            assert h.hold.arrive_s == pytest.approx(when[node], abs=0.01)
            assert h.hold.start_s == pytest.approx(when[node] - 30.0, abs=0.01)
            assert h.hold.end_s == pytest.approx(when[node] + 30 * 44 / 25 + 10.0, abs=0.01)
        assert c.arrive_s == pytest.approx(NINE + c.route.travel_time_s, abs=0.01)


def test_arriving_by_a_time_leaves_that_long_before(ctx: Context) -> None:
    ans = ctx.impact.motorcades.plan(Motorcade("forbidden-city", "summer-palace", arrive_by_s=NINE))
    for c in ans.candidates:
        assert c.arrive_s == pytest.approx(NINE)
        assert c.depart_s == pytest.approx(NINE - c.route.travel_time_s)


def test_two_convoys_sharing_crossings_within_the_hold_cost_less_together(ctx: Context) -> None:
    a = Motorcade("capital-airport", DIAOYUTAI, depart_s=NINE)
    b = Motorcade("capital-airport", DIAOYUTAI, depart_s=NINE + 15)  # 15 s behind: inside the first's holds
    prog = ctx.impact.motorcades.programme([a, b], ["fastest", "fastest"])
    assert sum(len(h.hold.convoys) == 2 for h in prog.holds) >= 10
    assert prog.person_hours < prog.apart_person_hours
    # Apart: each convoy's own cost, as one trip alone.
    alone = [ctx.impact.motorcades.plan(t) for t in (a, b)]
    fast = [next(c for c in x.candidates if "fastest" in c.kinds) for x in alone]
    assert prog.apart_person_hours == pytest.approx(sum(c.person_hours for c in fast), rel=1e-9)
    # Far apart in time, nothing merges and the programme costs the two alone.
    far = ctx.impact.motorcades.programme(
        [a, Motorcade("capital-airport", DIAOYUTAI, depart_s=NINE + 3600)], ["fastest", "fastest"]
    )
    assert not any(len(h.hold.convoys) == 2 for h in far.holds)


def test_avoid_areas_keep_the_convoy_out(ctx: Context) -> None:
    import shapely

    from layers.routing import Closures

    square = shapely.box(116.380, 39.900, 116.410, 39.915)  # Tiananmen and Chang'an Avenue
    ans = ctx.impact.motorcades.plan(
        Motorcade("capital-airport", DIAOYUTAI, depart_s=NINE, avoid=Closures(areas=(square,)))
    )
    for c in ans.candidates:
        inside = shapely.contains_xy(square, c.route.coords[:, 0], c.route.coords[:, 1])
        assert not inside.any()
