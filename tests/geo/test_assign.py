"""All-or-nothing assignment, the first closed arc of each route and the way round each arc, against networkx."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from scipy.sparse import csr_matrix

from geo.assign import aon_trees, chains, local_detours

Graph = tuple[csr_matrix, "nx.DiGraph[int]", np.ndarray, np.ndarray, np.ndarray]  # CSR, networkx, src, dst, times


@pytest.fixture(scope="module")
def graph() -> Graph:
    """A random directed graph with unique arc times (so that fastest routes are unique)."""
    rng = np.random.default_rng(7)
    g = nx.gnm_random_graph(250, 800, seed=11, directed=True)
    pairs = sorted(g.edges)
    src = np.array([u for u, _ in pairs])
    dst = np.array([v for _, v in pairs])
    w = rng.uniform(1.0, 100.0, len(pairs))
    dg = nx.DiGraph()
    for i, (u, v) in enumerate(pairs):
        dg.add_edge(u, v, w=w[i], row=i)
    return csr_matrix((w, (src, dst)), shape=(250, 250)), dg, src, dst, w


def test_flows_equal_routing_every_trip_with_networkx(graph: Graph) -> None:
    g, dg, src, _, _ = graph
    rng = np.random.default_rng(1)
    origins = np.array([0, 5, 17, 40, 99])
    dest = np.array([3, 9, 100, 249, 5, 5])
    trips = rng.uniform(0, 10, (len(origins), len(dest)))
    flows = aon_trees(g, origins).flows(trips, dest)
    want = np.zeros(len(src))
    for k, o in enumerate(origins):
        for j, d in enumerate(dest):
            try:
                path = nx.dijkstra_path(dg, int(o), int(d), weight="w")
            except nx.NetworkXNoPath:
                continue
            for a, b in itertools.pairwise(path):
                want[dg[a][b]["row"]] += trips[k, j]
    assert np.allclose(flows, want)
    assert flows.sum() > 0


def test_flows_conserve_trips_at_every_node(graph: Graph) -> None:
    g, _, src, dst, _ = graph
    origins = np.arange(0, 250, 10)
    trips = np.ones((len(origins), len(origins)))
    np.fill_diagonal(trips, 0.0)
    trees = aon_trees(g, origins)
    flows = trees.flows(trips, origins)
    net = np.zeros(250)
    np.add.at(net, dst, flows)
    np.subtract.at(net, src, flows)
    # What arrives at a node less what leaves it = the trips that end there less those that start there
    # (only trips that have a route are loaded).
    reach = trees.arc[:, origins] >= 0  # (O, D) whether the destination is reached
    reach |= origins[None, :] == origins[:, None]
    sent = (trips * reach).sum(axis=1)
    got = (trips * reach).sum(axis=0)
    want = np.zeros(250)
    np.add.at(want, origins, got - sent)
    assert np.allclose(net, want)


def test_first_closed_arc_is_the_first_on_the_route(graph: Graph) -> None:
    g, dg, src, _, _ = graph
    rng = np.random.default_rng(2)
    blocked = np.zeros(len(src), dtype=bool)
    blocked[rng.choice(len(src), 120, replace=False)] = True
    origins = np.array([0, 5, 17, 40])
    dest = np.array([3, 9, 100, 200, 5, 77])
    first = aon_trees(g, origins).first_closed(blocked, dest)
    checked = 0
    for k, o in enumerate(origins):
        for j, d in enumerate(dest):
            try:
                path = nx.dijkstra_path(dg, int(o), int(d), weight="w")
            except nx.NetworkXNoPath:
                assert first[k, j] == -1
                continue
            rows = [dg[a][b]["row"] for a, b in itertools.pairwise(path)]
            want = next((r for r in rows if blocked[r]), -1)
            assert first[k, j] == want
            checked += want >= 0
    assert checked > 3


def test_local_detours_bound_every_trips_detour_and_equal_networkx_on_plain_arcs(graph: Graph) -> None:
    g, dg, src, dst, w = graph
    rows = np.arange(len(src))
    got = local_detours(g, rows, limit_s=1e9)
    first, end, _ = chains(g, rows)
    indeg = np.bincount(dst, minlength=250)
    plain = 0
    for r in rows.tolist():
        if first[r] != r or end[r] != dst[r] or indeg[dst[r]] == 1:
            continue  # inside a one-way chain, or ending at a fork: checked by the bound below
        h = dg.copy()
        h.remove_edge(int(src[r]), int(dst[r]))
        try:
            want = max(nx.dijkstra_path_length(h, int(src[r]), int(dst[r]), weight="w") - w[r], 0.0)
        except nx.NetworkXNoPath:
            want = np.inf
        assert got[r] == pytest.approx(want)
        plain += 1
    assert plain > 300
    # The bound: every trip that passes through an arc's chain is delayed by at most its way round, when the
    # arc is closed (a trip that starts or ends inside a chain, or ends at the fork it leads to, cannot take it).
    through = (indeg == 1) & (np.bincount(src, minlength=250) == 1)
    rng = np.random.default_rng(9)
    checked = 0
    for o, d in rng.integers(0, 250, (300, 2)).tolist():
        if through[o] or through[d] or indeg[d] == 1:
            continue
        try:
            path = nx.dijkstra_path(dg, o, d, weight="w")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            continue
        base = nx.path_weight(dg, path, weight="w")
        for a, b in itertools.pairwise(path):
            r = dg[a][b]["row"]
            h = dg.copy()
            h.remove_edge(a, b)
            try:
                detour = nx.dijkstra_path_length(h, o, d, weight="w") - base
            except nx.NetworkXNoPath:
                detour = np.inf
            assert detour <= got[r] + 1e-9
            checked += 1
    assert checked > 200
    assert np.isinf(got).any()
    assert np.isfinite(got).any()
    # Beyond the limit: none found.
    capped = local_detours(g, rows, limit_s=5.0)
    assert np.all((capped == got) | np.isinf(capped))


def test_chains_run_through_nodes_with_one_way_in_and_out() -> None:
    # 0 -> 1 -> 2 -> 3, with 3 -> 0 and 0 -> 3 the other ways: 1 and 2 are through nodes.
    src = np.array([0, 0, 1, 2, 3])
    dst = np.array([1, 3, 2, 3, 0])
    g = csr_matrix((np.array([1.0, 10.0, 2.0, 3.0, 1.0]), (src, dst)), shape=(4, 4))
    first, end, time = chains(g, np.arange(5))
    # Rows in (src, dst) order: (0,1)=0, (0,3)=1, (1,2)=2, (2,3)=3, (3,0)=4.
    assert first.tolist() == [0, 1, 0, 0, 4]
    assert end.tolist() == [3, 3, 3, 3, 0]
    assert time.tolist() == [6.0, 10.0, 6.0, 6.0, 1.0]
    d = local_detours(g, np.arange(5), limit_s=100.0)
    assert d[0] == d[2] == d[3] == 4.0  # round the chain 0-1-2-3 by the direct arc: 10 - 6
    assert d[1] == 0.0  # round 0 -> 3 by the chain: 6 < 10
    assert np.isinf(d[4])
