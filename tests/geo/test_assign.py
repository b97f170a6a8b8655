"""All-or-nothing assignment, the first closed arc of each route and the way round each arc, against networkx."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from scipy.sparse import csr_matrix

from geo.assign import aon_trees, local_detours


@pytest.fixture(scope="module")
def graph() -> tuple[csr_matrix, nx.DiGraph, np.ndarray, np.ndarray, np.ndarray]:
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


def test_flows_equal_routing_every_trip_with_networkx(graph) -> None:  # type: ignore[no-untyped-def]
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


def test_flows_conserve_trips_at_every_node(graph) -> None:  # type: ignore[no-untyped-def]
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


def test_first_closed_arc_is_the_first_on_the_route(graph) -> None:  # type: ignore[no-untyped-def]
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


def test_local_detours_equal_networkx_without_the_arc(graph) -> None:  # type: ignore[no-untyped-def]
    g, dg, src, dst, w = graph
    rows = np.arange(len(src))
    got = local_detours(g, rows, limit_s=1e9)
    for r in rows.tolist():
        h = dg.copy()
        h.remove_edge(int(src[r]), int(dst[r]))
        try:
            want = max(nx.dijkstra_path_length(h, int(src[r]), int(dst[r]), weight="w") - w[r], 0.0)
        except nx.NetworkXNoPath:
            want = np.inf
        assert got[r] == pytest.approx(want)
    assert np.isinf(got).any()
    assert np.isfinite(got).any()
    # Beyond the limit: none found.
    capped = local_detours(g, rows, limit_s=5.0)
    assert np.all((capped == got) | np.isinf(capped))
