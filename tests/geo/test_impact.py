"""The gravity model and the impact figures, against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from geo.impact import TAU_S, gravity_shares, impact_figures, weighted_quantile


def test_gravity_shares_follow_population_and_time() -> None:
    pop = np.array([100.0, 200.0, 300.0])
    t = np.array([[0, 600, 1200], [600, 0, np.inf], [1200, 600, 0]], dtype=float)
    p = gravity_shares(pop, t)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.all(np.diag(p) == 0)
    assert p[1, 2] == 0  # no route, no trips
    w01, w02 = 200 * np.exp(-600 / TAU_S), 300 * np.exp(-1200 / TAU_S)
    assert p[0, 1] == pytest.approx(w01 / (w01 + w02))


def test_weighted_quantile_equals_the_repeated_sample() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        v = rng.integers(0, 100, 12).astype(float)
        w = rng.integers(0, 6, 12).astype(float)
        if w.sum() == 0:
            continue
        rep = np.repeat(v, w.astype(int))
        for q in (0.5, 0.9):
            k = int(np.ceil(q * len(rep))) - 1
            assert weighted_quantile(v, w, q) == np.sort(rep)[max(k, 0)]


def test_no_change_no_delay_and_a_cut_off_township() -> None:
    pop = np.array([1000.0, 2000.0, 500.0])
    before = np.array([[0, 300, 900], [300, 0, 600], [900, 600, 0]], dtype=float)
    same = impact_figures(pop, before, before.copy())
    assert np.all(same.mean_delay_s == 0)
    assert same.person_hours_lost == 0
    assert same.total_cut_off == 0
    after = before.copy()
    after[2, :2] = np.inf  # township 2 cannot leave
    after[0, 1] = after[1, 0] = 420.0  # 0 <-> 1 two minutes longer
    f = impact_figures(pop, before, after)
    assert f.people_cut_off[2] == pytest.approx(500.0)
    assert f.mean_delay_s[2] == 0
    p = gravity_shares(pop, before)
    assert f.mean_delay_s[0] == pytest.approx(p[0, 1] * 120.0)  # 120 s to township 1, none to 2
    assert f.people_cut_off[0] == pytest.approx(0.0)
    expected_hours = (1000 * p[0, 1] * 120 + 2000 * p[1, 0] * 120) / 3600
    assert f.person_hours_lost == pytest.approx(expected_hours)
