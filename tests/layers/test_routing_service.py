"""The routing service on the shipped roads, checked against networkx (moved from tests/geo: it needs the built context)."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import shapely

from api.context import Context
from geo.crs import lonlat_to_utm
from geo.errors import NoRouteError
from geo.network import WALK_EXCLUDED_HIGHWAYS
from geo.routing import route_overlap
from geo.snapping import Snap
from layers.networks import SEED_NETWORK
from layers.routing import Closures

RNG = np.random.default_rng(20261122)


def _utm_length(coords: np.ndarray) -> float:
    x, y = lonlat_to_utm(coords[:, 0], coords[:, 1])
    return float(np.hypot(np.diff(x), np.diff(y)).sum())


@pytest.mark.parametrize(("metric", "weight"), [("fastest", "travel_time_s"), ("shortest", "length_m")])
def test_node_routes_equal_networkx(ctx: Context, metric: str, weight: str) -> None:
    net = ctx.networks.get(SEED_NETWORK, "drive")
    eng = ctx.routing.engine(net)
    n = len(eng.node_ids)
    checked = 0
    for a, b in RNG.integers(0, n, size=(60, 2)):
        u, v = int(eng.node_ids[a]), int(eng.node_ids[b])
        try:
            ref = nx.shortest_path_length(net.graph, u, v, weight=weight)
        except nx.NetworkXNoPath:
            assert not np.isfinite(eng.node_costs(np.array([a]), np.array([b]), metric=metric)[0])
            continue
        path = eng.node_path(a, b, metric=metric)
        time_s, length_m = eng.path_totals(path, metric=metric)
        got = time_s if metric == "fastest" else length_m
        assert got == pytest.approx(ref, rel=1e-4)
        checked += 1
    assert checked >= 50


def test_snapped_route_totals_match_its_geometry(ctx: Context) -> None:
    routes, a, b = ctx.routing.routes((116.3412, 39.9001), (116.4357, 39.9402))
    r = routes[0]
    assert a.snap.distance_m < 500
    assert _utm_length(r.coords) == pytest.approx(r.length_m, rel=0.01)
    assert sum(s.length_m for s in r.streets) == pytest.approx(r.length_m)
    assert sum(s.travel_time_s for s in r.streets) == pytest.approx(r.travel_time_s)
    assert np.allclose(r.coords[0], (a.snap.lon, a.snap.lat), atol=1e-6)
    assert np.allclose(r.coords[-1], (b.snap.lon, b.snap.lat), atol=1e-6)
    # Independent: networkx from the nodes the route enters and leaves by.
    g = ctx.networks.get(SEED_NETWORK, "drive").graph
    inner = nx.shortest_path_length(g, r.nodes[0], r.nodes[-1], weight="travel_time_s")
    ends = r.streets[0].travel_time_s + r.streets[-1].travel_time_s
    assert inner <= r.travel_time_s <= inner + ends + 1e-6


def test_alternatives_differ_and_are_no_faster(ctx: Context) -> None:
    routes, _, _ = ctx.routing.routes("beijing-west-station", "temple-of-heaven", alternatives=3)
    assert len(routes) == 3
    best = routes[0]
    for alt in routes[1:]:
        assert alt.travel_time_s >= best.travel_time_s - 1e-6
        assert route_overlap(alt, best) <= 0.8
        assert alt.edges != best.edges


def test_optimised_itinerary_is_no_slower(ctx: Context) -> None:
    stops = ["capital-airport", "temple-of-heaven", "olympic-green", "beijing-west-station", "forbidden-city"]
    given = ctx.routing.itinerary(stops)
    best = ctx.routing.itinerary(stops, optimize=True)
    t_given = sum(leg.travel_time_s for leg in given.legs)
    t_best = sum(leg.travel_time_s for leg in best.legs)
    assert t_best <= t_given + 1e-6
    assert best.order[0] == 0
    assert best.order[-1] == 4
    assert sorted(best.order) == [0, 1, 2, 3, 4]


def test_street_closure_changes_the_route_and_is_never_crossed(ctx: Context) -> None:
    routes, _, _ = ctx.routing.routes("beijing-south-station", "forbidden-city")
    named = [s for s in routes[0].streets if s.name and " / " not in s.name]
    street = max(named, key=lambda s: s.length_m).name
    closed, _, _ = ctx.routing.routes("beijing-south-station", "forbidden-city", closures=Closures(streets=(street,)))
    net = ctx.networks.get(SEED_NETWORK, "drive")
    shut = ctx.routing.closed_edges(net, Closures(streets=(street,)))
    assert closed[0].edges != routes[0].edges
    assert not {(u, v) for u, v, _ in closed[0].edges} & shut
    assert closed[0].travel_time_s >= routes[0].travel_time_s - 1e-6


def test_area_closure_is_never_crossed(ctx: Context) -> None:
    routes, _, _ = ctx.routing.routes("beijing-west-station", "forbidden-city")
    mid = routes[0].coords[len(routes[0].coords) // 2]
    area = shapely.Point(mid).buffer(0.004)  # about 350 m
    closed, _, _ = ctx.routing.routes("beijing-west-station", "forbidden-city", closures=Closures(areas=(area,)))
    line = shapely.LineString(closed[0].coords)
    assert not line.intersects(area)


def test_closure_that_cuts_off_the_destination_is_named(ctx: Context) -> None:
    site = ctx.sites.get("jingshan")
    ring = shapely.Point(site.lon, site.lat).buffer(0.012).difference(shapely.Point(site.lon, site.lat).buffer(0.007))
    with pytest.raises(NoRouteError, match=r"the closures cut .* area #1 leaves no fastest route"):
        ctx.routing.routes("beijing-west-station", "jingshan", closures=Closures(streets=("前门大街",), areas=(ring,)))


def test_walking_routes_use_walkable_edges_only(ctx: Context) -> None:
    routes, _, _ = ctx.routing.routes("beijing-south-station", "temple-of-heaven", mode="walk")
    g = ctx.networks.get(SEED_NETWORK, "walk").graph
    for u, v, k in routes[0].edges:
        hw = g.edges[u, v, k]["highway"]
        assert not set(hw if isinstance(hw, list) else [hw]) & WALK_EXCLUDED_HIGHWAYS
    assert routes[0].travel_time_s == pytest.approx(routes[0].length_m / (4.5 / 3.6))


def test_matrix_equals_single_routes(ctx: Context) -> None:
    origins = ["capital-airport", "beijing-south-station", "beijing-west-station"]
    dests = ["forbidden-city", "summer-palace", "olympic-green"]
    costs, _, _ = ctx.routing.matrix(origins, dests)
    for i, o in enumerate(origins):
        for j, d in enumerate(dests):
            single = ctx.routing.routes(o, d)[0][0]
            assert costs[i, j] == pytest.approx(single.travel_time_s, rel=1e-4)


@pytest.mark.parametrize(("metric", "weight"), [("fastest", "travel_time_s"), ("shortest", "length_m")])
def test_points_on_junctions_route_as_networkx_node_to_node(ctx: Context, metric: str, weight: str) -> None:
    """A point exactly on a junction may leave along any edge there, in any allowed direction."""
    net = ctx.networks.get(SEED_NETWORK, "drive")
    eng = ctx.routing.engine(net)
    g = net.graph
    rng = np.random.default_rng(20261202)
    # Junctions: three or more edges meet there.
    junctions = [n for n in g.nodes if g.in_degree(n) + g.out_degree(n) >= 3]
    picks = rng.choice(len(junctions), size=(200, 2))
    snaps = {}
    pairs = []
    for i, j in picks:
        a, b = int(junctions[i]), int(junctions[j])
        if a == b:
            continue
        for n in (a, b):
            if n not in snaps:
                snaps[n] = net.edge_index.snap(g.nodes[n]["x"], g.nodes[n]["y"], max_distance_m=1.0)
        pairs.append((a, b))
    checked = 0
    for a, b in pairs:
        try:
            ref = nx.shortest_path_length(g, a, b, weight=weight)
        except nx.NetworkXNoPath:
            with pytest.raises(NoRouteError):
                eng.route(snaps[a], snaps[b], metric=metric)
            continue
        r = eng.route(snaps[a], snaps[b], metric=metric)  # never a false no_route
        # Within the engine's rounding (node coordinates are stored to 1e-7 degrees).
        assert r.cost() == pytest.approx(ref, rel=1e-6, abs=0.02), (a, b)
        checked += 1
    assert checked >= 180
    # The matrix gives the same costs, within pandana's rounding of each edge's weight to 1/1000.
    heads = sorted({a for a, _ in pairs})[:40]
    tails = sorted({b for _, b in pairs})[:40]
    costs = eng.matrix([snaps[n] for n in heads], [snaps[n] for n in tails], metric=metric)
    for i, a in enumerate(heads):
        ref_all = nx.single_source_dijkstra_path_length(g, a, weight=weight)
        for j, b in enumerate(tails):
            want = 0.0 if a == b else ref_all.get(b, np.inf)
            if np.isfinite(want):
                assert costs[i, j] == pytest.approx(want, rel=1e-4, abs=0.05), (a, b)
            else:
                assert not np.isfinite(costs[i, j])


def _split_at(g: nx.MultiDiGraph, snap: Snap, name: str, weight: str) -> None:
    """Add node ``name`` to ``g`` on every edge the snap meets, splitting the edge's weight by the fraction."""
    for u, v, k, f in snap.candidates():
        w = g.edges[u, v, k][weight]
        g.add_edge(u, name, **{weight: f * w})
        g.add_edge(name, v, **{weight: (1.0 - f) * w})


@pytest.mark.parametrize(("metric", "weight"), [("fastest", "travel_time_s"), ("shortest", "length_m")])
def test_points_on_edges_that_meet_at_one_node_route_as_networkx(ctx: Context, metric: str, weight: str) -> None:
    """Two points on edges joined at a node (the path between them is that node alone), and a point to itself."""
    net = ctx.networks.get(SEED_NETWORK, "drive")
    eng = ctx.routing.engine(net)
    g = net.graph
    rng = np.random.default_rng(20261203)
    nodes = [n for n in g.nodes if g.in_degree(n) >= 2 and g.out_degree(n) >= 2]
    checked = 0
    for i in rng.choice(len(nodes), size=40, replace=False):
        a = int(nodes[i])
        u = int(rng.choice(list(g.predecessors(a))))
        w = int(rng.choice([x for x in g.successors(a) if x != u] or [u]))
        points = []
        for p, q in ((u, a), (a, w)):
            line = shapely.LineString(
                g.edges[p, q, 0].get(
                    "geometry",
                    shapely.LineString([(g.nodes[p]["x"], g.nodes[p]["y"]), (g.nodes[q]["x"], g.nodes[q]["y"])]),
                )
            )
            at = line.interpolate(0.5, normalized=True)
            points.append(net.edge_index.snap(at.x, at.y, max_distance_m=5.0))
        o, d = points
        ref_g = nx.MultiDiGraph(g)
        _split_at(ref_g, o, "origin", weight)
        _split_at(ref_g, d, "destination", weight)
        ref = nx.shortest_path_length(ref_g, "origin", "destination", weight=weight)
        r = eng.route(o, d, metric=metric)
        assert r.cost() == pytest.approx(ref, rel=1e-9, abs=1e-6), (u, a, w)
        # The line runs from one snapped point (within 2 mm) through the node to the other.
        assert np.allclose(r.coords[0], (o.lon, o.lat), atol=2e-8)
        assert np.allclose(r.coords[-1], (d.lon, d.lat), atol=2e-8)
        assert np.abs(r.coords - (g.nodes[a]["x"], g.nodes[a]["y"])).sum(axis=1).min() < 1e-9
        same = eng.route(o, o, metric=metric)
        assert same.cost() == 0.0
        assert same.length_m == 0.0
        assert len(same.coords) == 2
        checked += 1
    assert checked == 40


def test_no_walk_route_uses_a_ring_road_or_expressway(ctx: Context) -> None:
    # Along the North 4th Ring: walkers are on the side roads, not the trunk main lanes.
    g = ctx.networks.get(SEED_NETWORK, "walk").graph
    for origin, dest in (((116.3000, 39.9870), (116.4100, 39.9850)), ("beijing-west-station", "olympic-green")):
        r = ctx.routing.routes(origin, dest, mode="walk")[0][0]
        classes = set()
        for u, v, k in r.edges:
            hw = g.edges[u, v, k]["highway"]
            classes.update(hw if isinstance(hw, list) else [hw])
        assert not classes & {"motorway", "motorway_link", "trunk", "trunk_link"}
        assert r.length_m > 5000


def test_streets_merge_repeats_and_name_unnamed_roads(ctx: Context) -> None:
    r = ctx.routing.routes("capital-airport", "forbidden-city")[0][0]
    labels = [s.label for s in r.streets]
    assert all(a != b for a, b in itertools.pairwise(labels))  # no repeat in a row
    assert all(s.label for s in r.streets)
    names = [s.name for s in r.streets if s.name]
    assert sum("机场高速" in n for n in names) == 1  # one leg for the Airport Expressway
    unnamed = [s for s in r.streets if not s.name]
    assert unnamed
    assert all(s.label == f"unnamed {s.road_class}" and s.road_class for s in unnamed)
    assert sum(s.length_m for s in r.streets) == pytest.approx(r.length_m)


def test_closures_equal_networkx_without_the_closed_edges(ctx: Context) -> None:
    """Alternating closure sets (partial re-customisation, and back) against networkx on the reduced graph."""
    net = ctx.networks.get(SEED_NETWORK, "drive")
    eng = ctx.routing.engine(net)
    g = net.graph
    plans = [
        Closures(streets=("前门大街", "东长安街")),
        Closures(areas=(shapely.box(116.385, 39.905, 116.400, 39.915),)),
        Closures(),
    ]
    rng = np.random.default_rng(7)
    junctions = [n for n in g.nodes if g.in_degree(n) + g.out_degree(n) >= 3]
    # Pairs around the closures, so that the closures matter.
    near = [n for n in junctions if 116.35 < g.nodes[n]["x"] < 116.44 and 39.88 < g.nodes[n]["y"] < 39.94]
    pairs = [tuple(int(near[i]) for i in rng.choice(len(near), 2, replace=False)) for _ in range(40)]
    snaps = {n: net.edge_index.snap(g.nodes[n]["x"], g.nodes[n]["y"], max_distance_m=1.0) for p in pairs for n in p}
    changed = 0
    for round_ in range(2):
        for plan in plans:
            shut = ctx.routing.closed_edges(net, plan) if plan else set()
            blocked = eng.edge_mask(shut, metric="fastest") if shut else None
            reduced = g.copy()
            reduced.remove_edges_from([(u, v, k) for u, v, k in g.edges(keys=True) if (u, v) in shut])
            for a, b in pairs[round_ * 20 : (round_ + 1) * 20]:
                try:
                    ref = nx.shortest_path_length(reduced, a, b, weight="travel_time_s")
                except nx.NetworkXNoPath:
                    with pytest.raises(NoRouteError):
                        eng.route(snaps[a], snaps[b], blocked=blocked)
                    continue
                r = eng.route(snaps[a], snaps[b], blocked=blocked)
                assert r.travel_time_s == pytest.approx(ref, rel=1e-6, abs=0.02), (plan, a, b)
                assert not {(u, v) for u, v, _ in r.edges} & shut
                if plan and ref > nx.shortest_path_length(g, a, b, weight="travel_time_s") + 1:
                    changed += 1
    assert changed >= 5  # the closures did change routes
