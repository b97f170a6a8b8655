"""The routing engine against independent computations on the shipped graphs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from geo.routing import order_stops

RNG = np.random.default_rng(20261122)


def test_order_stops_matches_exhaustive_search() -> None:
    costs = RNG.uniform(1, 100, size=(7, 7))
    best = order_stops(costs)
    brute = min(
        ([0, *p, 6] for p in itertools.permutations(range(1, 6))),
        key=lambda o: sum(costs[i, j] for i, j in itertools.pairwise(o)),
    )
    cost = lambda o: sum(costs[i, j] for i, j in itertools.pairwise(o))  # noqa: E731
    assert cost(best) == pytest.approx(cost(brute))
