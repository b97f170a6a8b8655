"""The motorcade model's pure parts on small synthetic graphs, against brute force and networkx."""

from __future__ import annotations

import itertools
import random
from typing import Any

import networkx as nx
import numpy as np
import pytest
from scipy.sparse import csr_matrix

from geo.assign import crossing_detours
from geo.errors import InvalidInputError
from geo.eventtime import queue_delay_vh
from geo.motorcade import (
    FLOW_CAP,
    MIN_RELEASE_S,
    Approaches,
    Convoy,
    Hold,
    arc_costs,
    holds_along,
    merge_holds,
    pareto,
    price_hold,
)


def _grid(n: int, seed: int) -> tuple[csr_matrix, nx.DiGraph]:
    """An n x n grid of two-way streets with random times (seconds), as the engine's CSR and as networkx."""
    rng = random.Random(seed)
    g = nx.DiGraph()
    for x, y in itertools.product(range(n), range(n)):
        for dx, dy in ((1, 0), (0, 1)):
            if x + dx < n and y + dy < n:
                a, b = x * n + y, (x + dx) * n + y + dy
                g.add_edge(a, b, t=rng.uniform(20, 90))
                g.add_edge(b, a, t=rng.uniform(20, 90))
    src, dst = zip(*sorted(g.edges()), strict=True)
    w = [g.edges[u, v]["t"] for u, v in zip(src, dst, strict=True)]
    return csr_matrix((w, (src, dst)), shape=(n * n, n * n)), g


def test_ways_round_a_crossing_equal_networkx_without_the_node() -> None:
    m, g = _grid(6, 1)
    node = 14
    rows = np.flatnonzero(m.indices == node)
    got = crossing_detours(m, node, rows, limit_s=10_000)
    src = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    without = g.copy()
    without.remove_node(node)
    checked = 0
    for r in rows.tolist():
        u = int(src[r])
        exits = [x for x in g.successors(node) if x != u]
        want = []
        for x in sorted(exits):  # the kernel's order: exits by arc row, i.e. by head node
            d = nx.shortest_path_length(without, u, x, weight="t")
            # Never below zero: a trip through the crossing was on its fastest way (random times may say otherwise).
            want.append(max(0.0, d - g.edges[u, node]["t"] - g.edges[node, x]["t"]))
        assert got[r] == pytest.approx(want)
        checked += len(want)
    assert checked == 12  # 4 approaches x 3 exits (no U-turns)


def test_merged_holds_follow_the_release_rule() -> None:
    a = Hold(7, 100.0, 144.0, frozenset({1}), (0,), 100.0)
    b = Hold(7, 144.0 + MIN_RELEASE_S - 1, 230.0, frozenset({2}), (1,), 183.0)
    c = Hold(7, 230.0 + MIN_RELEASE_S, 300.0, frozenset({1}), (2,), 270.0)
    other = Hold(8, 120.0, 164.0, frozenset({3}), (0,), 120.0)
    out = merge_holds([c, other, b, a])
    assert [(h.node, h.start_s, h.end_s, h.convoys) for h in out] == [
        (7, 100.0, 230.0, (0, 1)),
        (8, 120.0, 164.0, (0,)),
        (7, 270.0, 300.0, (2,)),
    ]
    assert out[0].own == frozenset()  # the two convoys arrive on different approaches: both held in turn


def test_pareto_front_equals_brute_force() -> None:
    rng = random.Random(3)
    for _ in range(50):
        pts = [(rng.randint(0, 20) * 1.0, rng.randint(0, 20) * 1.0) for _ in range(rng.randint(1, 12))]
        got = {pts[i] for i in pareto(pts)}
        want = {p for p in pts if not any(q[0] <= p[0] and q[1] <= p[1] and (q[0] < p[0] or q[1] < p[1]) for q in pts)}
        assert got == want


def _approaches(n_nodes: int, src: list[int], dst: list[int], cars: list[float]) -> Approaches:
    k = len(src)
    return Approaches(
        src=np.array(src, dtype=np.int64),
        dst=np.array(dst, dtype=np.int64),
        time_s=np.full(k, 30.0),
        car_trips=np.array(cars, dtype=float),
        bus_trips=np.zeros(k),
        saturation=np.full(k, 1900.0),
        wide=np.zeros(k, dtype=bool),
        crossing=np.ones(n_nodes, dtype=bool),
        profile=np.full(24, 1 / 24),
        occupancy=1.5,
    )


def test_a_held_approach_costs_the_deterministic_queue() -> None:
    # Three approaches into node 0; the convoy arrives on row 0. Rows 1 and 2 are held for 44 s.
    app = _approaches(4, [1, 2, 3], [0, 0, 0], [0.0, 24 * 900 * 1.5, 24 * 1500 * 1.5])  # 900 and 1,500 cars/h
    hold = Hold(0, 9 * 3600.0, 9 * 3600.0 + 44.0, frozenset({0}))
    far = {1: np.array([1e6, 1e6]), 2: np.array([1e6])}  # ways round longer than any wait
    cost = price_hold(app, hold, far)
    vh = queue_delay_vh(900.0, 1900.0, 44 / 3600) + queue_delay_vh(1500.0, 1900.0, 44 / 3600)
    assert cost.person_hours == pytest.approx(vh * 1.5, rel=1e-9)
    assert cost.persons.sum() == pytest.approx((900 + 1500) * 1.5 * 44 / 3600)
    # A way round quicker than the wait is taken by that exit's share.
    near = {1: np.array([5.0, 1e6]), 2: np.array([1e6])}
    assert price_hold(app, hold, near).person_hours < cost.person_hours


def test_an_overloaded_approach_is_capped_and_counted() -> None:
    app = _approaches(2, [1], [0], [24 * 5000 * 1.5])  # 5,000 cars/h on one lane of 1,900
    cost = price_hold(app, Hold(0, 0.0, 60.0, frozenset()), {0: np.array([np.inf])})
    assert cost.capped == 1
    q = FLOW_CAP * 1900.0
    assert cost.queue_s.sum() / 3600 == pytest.approx(5000 * 1.5 * 60 / 3600 * 60 / (2 * (1 - q / 1900)) / 3600)


def test_search_costs_leave_out_the_convoys_own_approach() -> None:
    app = _approaches(4, [1, 2, 3], [0, 0, 0], [24 * 300 * 1.5, 24 * 600 * 1.5, 24 * 900 * 1.5])
    c = arc_costs(app, 44.0, 9)
    each = [p * 44 / 3600 * 44 / (2 * (1 - q / 1900)) for p, q in ((450, 300), (900, 600), (1350, 900))]
    assert c == pytest.approx([each[1] + each[2], each[0] + each[2], each[0] + each[1]])


def test_holds_along_a_route_follow_its_times() -> None:
    convoy = Convoy(vehicles=10, hold_before_s=30, hold_after_s=5)
    crossing = np.array([True, False, True, True])
    holds = holds_along([0, 1, 2, 3], [10, 11, 12], [100.0, 130.0, 175.0, 200.0], crossing, convoy)
    assert [(h.node, h.start_s, h.end_s, h.own) for h in holds] == [(2, 145.0, 175.0 + 17.6 + 5, frozenset({11}))]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"vehicles": 0}, "convoy.vehicles"),
        ({"speed_kph": float("nan")}, "convoy.speed_kph"),
        ({"hold_before_s": 1801.0}, "hold_before_s"),
        ({"hold_before_s": 1000.0, "hold_after_s": 900.0}, "a hold lasts"),
    ],
)
def test_a_convoy_that_cannot_be_is_refused(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        Convoy(**kwargs)
