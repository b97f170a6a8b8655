"""The event-time model's pure parts: windows, pieces of the day, the queue, waiting or detouring."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from geo.errors import InvalidInputError
from geo.eventtime import (
    DAY_S,
    DIURNAL_TRIPS,
    MODE_SHARES,
    PROFILES,
    ClockWindow,
    check_shares,
    closed_span,
    hour_share,
    parse_window,
    pieces,
    queue_delay_vh,
    saturation_flow,
    wait_or_detour,
)


def test_windows_parse_clock_times_and_date_times_and_read_back() -> None:
    assert parse_window({"start": "07:30", "end": "09:00"}, "w") == ClockWindow(27000, 32400)
    assert parse_window({"start": "00:00", "end": "24:00"}, "w") == ClockWindow(0, DAY_S)
    night = parse_window({"start": "2026-10-01T22:00", "end": "2026-10-02T02:30"}, "w")
    assert night == ClockWindow(22 * 3600, 26 * 3600 + 1800)
    # A time with an offset is read as Beijing time (UTC+8).
    assert parse_window({"start": "2026-10-01T00:00Z", "end": "2026-10-01T01:00Z"}, "w") == ClockWindow(
        8 * 3600, 9 * 3600
    )
    for w in (ClockWindow(27000, 32400), night, ClockWindow(0, DAY_S), ClockWindow(61, 3600)):
        assert parse_window(w.iso(), "again") == w


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"start": "09:00", "end": "07:30"}, "before it starts"),
        ({"start": "08:00", "end": "08:00"}, "before it starts"),
        ({"start": "2026-10-01T07:00", "end": "2026-10-02T08:00"}, "at most 24 hours"),
        ({"start": "7h", "end": "09:00"}, "must be a time"),
        ({"start": "24:00", "end": "24:00"}, "before 24:00"),
        ({"start": "25:00", "end": "26:00"}, "must be a time"),
        ({"start": "07:00", "end": "2026-10-01T09:00"}, "both times"),
        ({"start": "07:00"}, "exactly 'start' and 'end'"),
        ({"start": "07:00", "end": "08:00", "extra": 1}, "exactly 'start' and 'end'"),
        ({"start": 7, "end": "08:00"}, "must be a time"),
        ("07:00-08:00", "must be an object"),
    ],
)
def test_bad_windows_are_refused_naming_the_field(value: object, says: str) -> None:
    with pytest.raises(InvalidInputError, match=says) as e:
        parse_window(value, "plan.window")
    assert "plan.window" in str(e.value)


def test_mode_shares_are_checked() -> None:
    assert check_shares(MODE_SHARES) == MODE_SHARES
    assert sum(MODE_SHARES.values()) == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="unknown mode 'boat'"):
        check_shares({"boat": 1.0})
    with pytest.raises(InvalidInputError, match="sum to 1"):
        check_shares({"car": 0.5, "walk": 0.4})
    for bad in (float("nan"), -0.1, 1.5, True):
        with pytest.raises(InvalidInputError, match="share between 0 and 1"):
            check_shares({"car": bad})


def test_profiles_cover_the_day_and_the_diurnal_one_peaks_at_five_pm() -> None:
    for p in PROFILES.values():
        assert p.sum() == pytest.approx(1.0)
        assert len(p) == 24
    day = pieces([ClockWindow(0, DAY_S)])
    assert len(day) == 24
    assert sum(hour_share(x, PROFILES["diurnal"]) for x in day) == pytest.approx(1.0)
    assert int(np.argmax(PROFILES["diurnal"])) == 17
    assert DIURNAL_TRIPS[17] / DIURNAL_TRIPS[3] > 100


def test_pieces_cut_at_every_change_and_hour_and_know_what_is_closed() -> None:
    a = ClockWindow(7 * 3600 + 1800, 9 * 3600)  # 07:30-09:00
    b = ClockWindow(8 * 3600 + 600, 8 * 3600 + 720)  # 08:10-08:12
    ps = pieces([a, b])
    cuts = [(p.start_s, p.end_s, p.active) for p in ps]
    assert cuts == [
        (27000, 28800, (0,)),
        (28800, 29400, (0,)),
        (29400, 29520, (0, 1)),
        (29520, 32400, (0,)),
    ]
    assert [p.hour for p in ps] == [7, 8, 8, 8]
    # Past midnight, the profile wraps.
    late = pieces([ClockWindow(23 * 3600, 25 * 3600)])
    assert [p.hour for p in late] == [23, 0]
    # Apart, a gap holds no piece.
    apart = pieces([ClockWindow(3600, 7200), ClockWindow(10800, 14400)])
    assert [(p.start_s, p.end_s) for p in apart] == [(3600, 7200), (10800, 14400)]
    assert pieces([]) == []


def test_closed_span_merges_overlapping_windows() -> None:
    w = [ClockWindow(100, 200), ClockWindow(150, 400), ClockWindow(1000, 1100)]
    assert closed_span(w, 120) == 300
    assert closed_span(w, 1050) == 100
    assert closed_span(w, 500) == 0


def _simulated_queue_vh(q: float, s: float, t_h: float) -> float:
    """Integrate the queue length of a fluid queue (arrivals q, served at s once open) over time: vehicle-hours."""
    queue, total, t = 0.0, 0.0, 0.0
    dt = t_h / 50000.0
    while t < t_h or queue > 1e-9:
        queue += q * dt
        if t >= t_h:
            queue = max(0.0, queue - s * dt)
        total += queue * dt
        t += dt
    return total


@pytest.mark.parametrize(("ratio", "minutes"), [(0.2, 0.5), (0.5, 2.0), (0.8, 10.0), (0.6, 5.0)])
def test_the_queue_formula_equals_an_integrated_fluid_queue(ratio: float, minutes: float) -> None:
    s = 1900.0
    formula = queue_delay_vh(ratio * s, s, minutes / 60.0)
    assert formula == pytest.approx(_simulated_queue_vh(ratio * s, s, minutes / 60.0), rel=2e-3)
    assert queue_delay_vh(s, s, 0.1) == float("inf")
    assert queue_delay_vh(0.0, s, 0.1) == 0.0


def test_saturation_by_class() -> None:
    assert saturation_flow("residential") == 1900.0
    assert saturation_flow("primary") == 3800.0
    assert saturation_flow("motorway") == 3 * 2400.0
    assert saturation_flow("trunk_link") == 1900.0


def _equilibria(rates: np.ndarray, detours: np.ndarray, s: float, t_s: float) -> list[set[int]]:
    """Return every set of waiters where no trip would rather switch (brute force over all subsets)."""

    def wait(q: float) -> float:
        return t_s / (2 * (1 - q / s)) if q < s else np.inf

    out = []
    n = len(rates)
    for k in range(n + 1):
        for sub in itertools.combinations(range(n), k):
            q = rates[list(sub)].sum()
            stay = all(detours[i] > wait(q) for i in sub)
            out_ok = all(detours[j] <= wait(q + rates[j]) for j in range(n) if j not in sub)
            if stay and out_ok:
                out.append(set(sub))
    return out


def test_wait_or_detour_is_an_equilibrium_of_waiting_and_detouring() -> None:
    rng = np.random.default_rng(3)
    s, t_s = 1900.0, 300.0
    seen_mixed = 0
    for _ in range(300):
        n = int(rng.integers(1, 7))
        rates = rng.uniform(50, 900, n)
        detours = rng.uniform(0, 1200, n)  # distinct: one equilibrium
        waits, w = wait_or_detour(rates, detours, s, t_s)
        eq = _equilibria(rates, detours, s, t_s)
        # It is one of the equilibria (flows are lumps, so there can be several: a big flow that would tip
        # the queue stays out while smaller ones with shorter detours join).
        assert set(np.flatnonzero(waits).tolist()) in eq
        seen_mixed += 0 < waits.sum() < n
        if waits.any():
            assert w == pytest.approx(t_s / (2 * (1 - rates[waits].sum() / s)))
    assert seen_mixed > 20
    # A trip with no way round waits while the queue can clear; beyond saturation, nobody can.
    waits, _ = wait_or_detour(np.array([100.0]), np.array([np.inf]), s, t_s)
    assert waits.all()
    waits, _ = wait_or_detour(np.array([2000.0]), np.array([np.inf]), s, t_s)
    assert not waits.any()
