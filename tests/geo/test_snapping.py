"""Snapping on a small graph built here, against brute force (no API context, no shipped data)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

from geo.crs import lonlat_to_utm
from geo.errors import OutsideCoverageError
from geo.snapping import NEAR_M, TIE_M, build_edge_index, edge_arrays, edge_index_from_arrays


def _grid(n: int = 6, step: float = 0.002) -> nx.MultiDiGraph:
    """A two-way street grid near Tiananmen, ``step`` degrees apart."""
    g = nx.MultiDiGraph()
    for i in range(n):
        for j in range(n):
            g.add_node(i * n + j, x=116.39 + j * step, y=39.90 + i * step)
    for i in range(n):
        for j in range(n):
            a = i * n + j
            for b in ([a + 1] if j + 1 < n else []) + ([a + n] if i + 1 < n else []):
                g.add_edge(a, b)
                g.add_edge(b, a)
    return g


def test_the_nearest_edge_equals_brute_force() -> None:
    g = _grid(step=0.005)  # blocks of about 430 x 555 m: points up to 280 m from a street
    idx = build_edge_index(g)
    lines = []
    for u, v, _ in idx.edges.tolist():
        x, y = lonlat_to_utm([g.nodes[u]["x"], g.nodes[v]["x"]], [g.nodes[u]["y"], g.nodes[v]["y"]], name="t")
        lines.append(shapely.LineString(np.column_stack([x, y])))
    rng = np.random.default_rng(4)
    far = 0
    for lon, lat in zip(rng.uniform(116.387, 116.418, 200), rng.uniform(39.897, 39.928, 200), strict=True):
        s = idx.snap(float(lon), float(lat), max_distance_m=500)
        x, y = lonlat_to_utm([lon], [lat], name="p")
        d = np.array([ln.distance(shapely.Point(x[0], y[0])) for ln in lines])
        assert s.distance_m == pytest.approx(float(d.min()), abs=1e-6)
        # Every edge within TIE_M of the nearest is a candidate (both directions of a two-way street).
        near = {tuple(idx.edges[k][:2]) for k in np.flatnonzero(d <= d.min() + TIE_M)}
        assert {(u, v) for u, v, _, _ in s.candidates()} == near
        for u, v, _, f in s.candidates():  # the point's fraction along each candidate
            k = next(k for k, e in enumerate(idx.edges.tolist()) if e[:2] == [u, v])
            assert f == pytest.approx(lines[k].project(shapely.Point(x[0], y[0]), normalized=True), abs=1e-9)
        far += s.distance_m > NEAR_M - TIE_M
    # Both ways of finding the nearest edge ran: the box around the point, and the whole index beyond it.
    assert 20 < far < 180


def test_cached_arrays_give_the_same_index() -> None:
    g = _grid()
    a = build_edge_index(g)
    b = edge_index_from_arrays(*edge_arrays(g))
    assert np.array_equal(a.edges, b.edges)
    assert all(x.equals(y) for x, y in zip(a.geoms, b.geoms, strict=True))
    assert a.snap(116.3931, 39.9043, max_distance_m=100) == b.snap(116.3931, 39.9043, max_distance_m=100)


def test_a_point_too_far_is_an_error_not_a_jump() -> None:
    idx = build_edge_index(_grid())
    with pytest.raises(OutsideCoverageError, match=r"the limit is 50 m"):
        idx.snap(116.38, 39.89, max_distance_m=50)


def test_an_empty_graph_has_an_empty_index() -> None:
    idx = edge_index_from_arrays(*edge_arrays(nx.MultiDiGraph()))
    assert len(idx.edges) == 0
