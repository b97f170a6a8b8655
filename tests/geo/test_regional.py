"""The regional skeleton's pure parts: chord classes, the speed fit, joining two networks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from geo.errors import DataSourceError
from geo.network import CONNECTOR_CLASS, REGIONAL_CLASS
from geo.regional import Calibration, Skeleton, chord_class, fit_calibration, join_networks, skeleton_trips


def _grid_skeleton(n: int = 8, step_m: float = 1500.0) -> Skeleton:
    """An n x n lattice of chords ``step_m`` long (positions are only used by `join_networks`)."""
    ids = np.arange(n * n, dtype=np.int64) + 1000
    lon = 116.0 + (np.arange(n * n) % n) * 0.0175
    lat = 39.8 + (np.arange(n * n) // n) * 0.0135
    u, v = [], []
    for r in range(n):
        for c in range(n):
            i = r * n + c
            if c + 1 < n:
                u.append(i)
                v.append(i + 1)
            if r + 1 < n:
                u.append(i)
                v.append(i + n)
    return Skeleton(ids, lon, lat, np.array(u), np.array(v), np.full(len(u), step_m))


def test_chord_classes_split_at_1_and_3_km() -> None:
    assert chord_class(np.array([10.0, 999.9, 1000.0, 2999.0, 3000.0, 40000.0])).tolist() == [0, 0, 1, 1, 2, 2]


def test_skeleton_trips_equal_networkx() -> None:
    sk = _grid_skeleton()
    pace = np.array([0.1, 0.08, 0.05])
    g = nx.Graph()
    for a, b, c in zip(sk.u.tolist(), sk.v.tolist(), sk.chord_m.tolist(), strict=True):
        g.add_edge(a, b, w=c * pace[chord_class(np.array([c]))[0]])
    rng = np.random.default_rng(1)
    src, dst = rng.integers(0, 64, 40), rng.integers(0, 64, 40)
    times, by_class = skeleton_trips(sk, pace, src, dst)
    for k in range(40):
        assert times[k] == pytest.approx(nx.shortest_path_length(g, int(src[k]), int(dst[k]), weight="w"))
    # Every metre driven is in class 1 (1.5 km chords): times = metres x pace.
    assert np.allclose(by_class[:, 1] * pace[1], times)
    assert np.all(by_class[:, [0, 2]] == 0)


def test_fit_recovers_a_known_speed_and_length_factor() -> None:
    # Trips whose "detailed" time is the lattice distance at 36 km/h and whose length is 1.2 x
    # the chords: the fit must find 36 km/h for the only class used, factor 1.2, no error.
    sk = _grid_skeleton()
    rng = np.random.default_rng(2)
    src, dst = rng.integers(0, 64, 200), rng.integers(0, 64, 200)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    g = nx.Graph()
    g.add_edges_from(zip(sk.u.tolist(), sk.v.tolist(), strict=True))
    hops = np.array([nx.shortest_path_length(g, int(a), int(b)) for a, b in zip(src, dst, strict=True)])
    metres = hops * 1500.0
    cal = fit_calibration(sk, src, dst, metres / 10.0, metres * 1.2, holdout=np.arange(len(src)) % 3 == 0)
    assert cal.speeds_kph[1] == pytest.approx(36.0, rel=1e-6)
    assert cal.length_factor == pytest.approx(1.2, rel=1e-9)
    assert cal.fit["test_median_abs_rel"] == pytest.approx(0.0, abs=1e-6)
    assert cal.fit["trips_held_out"] == int((np.arange(len(src)) % 3 == 0).sum())


def test_fit_refuses_too_few_trips() -> None:
    sk = _grid_skeleton()
    src, dst = np.arange(10), np.arange(10) + 20
    with pytest.raises(DataSourceError, match="too few matched trips"):
        fit_calibration(sk, src, dst, np.ones(10), np.ones(10), holdout=np.zeros(10, bool))


def test_calibration_json_round_trip_and_bounds() -> None:
    cal = Calibration((40.0, 50.0, 60.0), 1.1, {"test_median_abs_rel": 0.1, "test_p90_abs_rel": 0.3})
    assert Calibration.from_json(cal.to_json()) == cal
    assert cal.time_error() == (0.1, 0.3)
    assert np.allclose(cal.edge_times_s(np.array([500.0, 2000.0, 5000.0])), [45.0, 144.0, 300.0])
    with pytest.raises(DataSourceError, match="5-150 km/h"):
        Calibration.from_json({"speeds_kph": [40, 0, 60], "length_factor": 1.1})
    with pytest.raises(DataSourceError, match="malformed"):
        Calibration.from_json({"speeds_kph": [40, 50, 60]})


def test_skeleton_refuses_bad_edges() -> None:
    with pytest.raises(DataSourceError, match="positive finite length"):
        Skeleton(np.array([1, 2]), np.zeros(2), np.zeros(2), np.array([0]), np.array([1]), np.array([0.0]))
    with pytest.raises(DataSourceError, match="does not exist"):
        Skeleton(np.array([1, 2]), np.zeros(2), np.zeros(2), np.array([0]), np.array([2]), np.array([5.0]))


def test_join_keeps_detailed_roads_inside_and_links_the_skeleton() -> None:
    sk = _grid_skeleton(3)
    detailed = nx.MultiDiGraph()
    detailed.add_node(1, x=116.0, y=39.8)
    detailed.add_node(2, x=116.001, y=39.8)
    detailed.add_edge(1, 2, length_m=85.0, travel_time_s=10.0, highway="primary")
    inner = np.zeros(9, bool)
    inner[[0, 1]] = True  # the edge 0-1 lies wholly inside the detailed network
    cal = Calibration((36.0, 36.0, 36.0), 1.5)
    g = join_networks(detailed, sk, cal, inner=inner, links={0: [(1, 20.0)], 1: [(2, 30.0)]})
    assert detailed.number_of_edges() == 1  # the input is not changed
    assert not g.has_edge(-1000, -1001)  # inside: the detailed roads answer
    assert g.has_edge(-1000, -1003)
    assert g.has_edge(-1003, -1000)
    e = g.edges[-1000, -1003, 0]
    assert e["highway"] == REGIONAL_CLASS
    assert e["length_m"] == pytest.approx(1500.0 * 1.5)
    assert e["travel_time_s"] == pytest.approx(150.0)  # 1,500 chord metres at 36 km/h
    assert g.edges[-1000, 1, 0]["highway"] == CONNECTOR_CLASS
    assert g.edges[1, -1000, 0]["length_m"] == pytest.approx(20.0)
    assert g.number_of_edges() == 1 + 2 * 11 + 4  # detailed + 11 of the 12 lattice chords + 2 links each way
