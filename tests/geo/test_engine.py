"""The routing engine on the synthetic grid, against networkx's Dijkstra (no service context)."""

from __future__ import annotations

import copy

import networkx as nx
import numpy as np
import pytest

from geo.engine_arrays import METRICS, WEIGHT, engine_arrays
from geo.routing import build_engine
from geo.snapping import build_edge_index
from tests.geo.conftest import node_id


def test_arrays_hold_every_edge_and_the_cheapest_of_parallel_ones(grid: nx.MultiDiGraph) -> None:
    arrays = engine_arrays(grid)
    assert len(arrays["edge.u"]) == grid.number_of_edges()
    assert len(arrays["node_ids"]) == grid.number_of_nodes() == 36
    pairs = {(u, v) for u, v, _ in grid.edges(keys=True)}
    ids = arrays["node_ids"]
    for metric in METRICS:
        assert len(arrays[f"{metric}.src"]) == len(pairs)
        got = {
            (int(ids[a]), int(ids[b])): float(w)
            for a, b, w in zip(*(arrays[f"{metric}.{k}"] for k in ["src", "dst", "w"]), strict=True)
        }
        for (u, v), w in got.items():
            assert w == min(float(d[WEIGHT[metric]]) for d in grid.get_edge_data(u, v).values())
    # every edge line starts and ends exactly on its nodes
    offsets, coords = arrays["edge.offsets"], arrays["edge.coords"]
    for row, (a, b) in enumerate(zip(arrays["edge.u"], arrays["edge.v"], strict=True)):
        line = coords[offsets[row] : offsets[row + 1]]
        assert tuple(line[0]) == (arrays["lon"][a], arrays["lat"][a])
        assert tuple(line[-1]) == (arrays["lon"][b], arrays["lat"][b])


@pytest.mark.parametrize("metric", METRICS)
def test_node_costs_equal_networkx_on_every_pair(grid: nx.MultiDiGraph, metric: str) -> None:
    eng = build_engine(grid)
    want = dict(nx.all_pairs_dijkstra_path_length(grid, weight=WEIGHT[metric]))
    n = len(eng.node_ids)
    a, b = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    got = eng.node_costs(a, b, metric=metric)
    for i, j, cost in zip(a.tolist(), b.tolist(), got.tolist(), strict=True):
        expected = want[int(eng.node_ids[i])].get(int(eng.node_ids[j]), np.inf)
        assert cost == pytest.approx(expected, abs=0.01)  # sums of integer weights of 1/1000


def test_one_way_streets_are_respected(grid: nx.MultiDiGraph) -> None:
    eng = build_engine(grid)
    south, north = eng.index[node_id(0, 1)], eng.index[node_id(5, 1)]
    up = eng.node_path(south, north, metric="fastest")
    down = eng.node_path(north, south, metric="fastest")
    assert [int(eng.node_ids[i]) for i in up] == [node_id(r, 1) for r in range(6)]  # straight up the one-way
    assert len(down) > len(up)  # southbound goes round by a two-way street


def test_snapped_route_equals_networkx_to_the_snapped_point(grid: nx.MultiDiGraph) -> None:
    eng = build_engine(grid)
    index = build_edge_index(grid)
    o = grid.nodes[node_id(0, 0)]
    origin = index.snap(o["x"], o["y"], max_distance_m=50)
    # a point about 40 % along the two-way street between (3, 4) and (3, 5)
    u, v = node_id(3, 4), node_id(3, 5)
    lon = 0.6 * grid.nodes[u]["x"] + 0.4 * grid.nodes[v]["x"]
    dest = index.snap(lon, grid.nodes[u]["y"], max_distance_m=50)
    assert {dest.u, dest.v} == {u, v}
    route = eng.route(origin, dest, metric="shortest")
    dist = nx.single_source_dijkstra_path_length(grid, node_id(0, 0), weight="length_m")
    edge = float(grid.edges[u, v, 0]["length_m"])
    f = dest.fraction if dest.u == u else 1.0 - dest.fraction
    want = min(dist[u] + f * edge, dist[v] + (1 - f) * edge)
    assert route.length_m == pytest.approx(want, abs=0.5)
    assert route.coords[-1] == pytest.approx([dest.lon, dest.lat], abs=1e-7)  # within 1 cm


def test_closed_edges_are_never_used_and_the_route_equals_networkx_without_them(grid: nx.MultiDiGraph) -> None:
    eng = build_engine(grid)
    index = build_edge_index(grid)
    a, b = grid.nodes[node_id(0, 0)], grid.nodes[node_id(5, 5)]
    origin = index.snap(a["x"], a["y"], max_distance_m=50)
    dest = index.snap(b["x"], b["y"], max_distance_m=50)
    free = eng.route(origin, dest, metric="fastest")
    closed = {(u, v) for u, v, _ in free.edges[1:-1]}
    shut = eng.edge_mask(closed, metric="fastest")
    detour = eng.route(origin, dest, metric="fastest", blocked=shut)
    assert not closed & {(u, v) for u, v, _ in detour.edges}
    pruned = grid.copy()
    pruned.remove_edges_from([(u, v, k) for u, v, k in grid.edges(keys=True) if (u, v) in closed])
    want = nx.shortest_path_length(pruned, node_id(0, 0), node_id(5, 5), weight="travel_time_s")
    assert detour.travel_time_s == pytest.approx(want, abs=0.01)
    assert detour.travel_time_s > free.travel_time_s


def test_the_engine_never_changes_its_graph(grid: nx.MultiDiGraph) -> None:
    before = copy.deepcopy(grid)
    eng = build_engine(grid)
    eng.node_costs(np.arange(36), np.arange(36)[::-1].copy(), metric="fastest")
    assert nx.utils.graphs_equal(grid, before)
    assert all(grid.edges[e] == before.edges[e] for e in grid.edges(keys=True))
