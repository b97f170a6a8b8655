"""RAPTOR on small synthetic frequency feeds: waits, transfers, loops, closed stations, percentiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.errors import InvalidInputError
from geo.transit import TransitEngine, parse_clock, percentiles, timetable_from_gtfs


def _feed(lines: dict[str, tuple[list[str], list[int], int]], transfer_s: int = 300) -> dict[str, pd.DataFrame]:
    """A GTFS feed as tables: per line, its stations, seconds from the first and one headway all day."""
    names = sorted({s for st, _, _ in lines.values() for s in st})
    stops = [{"stop_id": n, "stop_name": n, "stop_lat": "39.9", "stop_lon": "116.4", "location_type": "1",
              "parent_station": ""} for n in names]  # fmt: skip
    trips, times, freqs, transfers = [], [], [], []
    for lid, (stations, secs, headway) in lines.items():
        for s in set(stations):
            stops.append({"stop_id": f"{s}:{lid}", "stop_name": s, "stop_lat": "39.9", "stop_lon": "116.4",
                          "location_type": "0", "parent_station": s})  # fmt: skip
        trips.append({"trip_id": lid, "route_id": lid})
        for i, (s, t) in enumerate(zip(stations, secs, strict=True)):
            clock = f"{(5 * 3600 + t) // 3600:02d}:{(5 * 3600 + t) % 3600 // 60:02d}:{t % 60:02d}"
            times.append({"trip_id": lid, "arrival_time": clock, "stop_id": f"{s}:{lid}", "stop_sequence": str(i + 1)})
        freqs.append({"trip_id": lid, "start_time": "05:00:00", "end_time": "23:00:00", "headway_secs": str(headway)})
    for s in names:
        here = [lid for lid, (st, _, _) in lines.items() if s in st]
        transfers += [{"from_stop_id": f"{s}:{a}", "to_stop_id": f"{s}:{b}", "min_transfer_time": str(transfer_s)}
                      for a in here for b in here if a != b]  # fmt: skip
    return {
        "stops": pd.DataFrame(stops),
        "trips": pd.DataFrame(trips),
        "stop_times": pd.DataFrame(times),
        "frequencies": pd.DataFrame(freqs),
        "transfers": pd.DataFrame(transfers, columns=["from_stop_id", "to_stop_id", "min_transfer_time"]),
    }


def _access(engine: TransitEngine, name: str) -> np.ndarray:
    acc = np.full(engine.tt.n_stations, np.inf)
    acc[engine.tt.station_index()[name]] = 0.0
    return acc


def test_single_line_waits_are_uniform_over_the_headway() -> None:
    """One line, headway H: the wait has median H/2 and 90th percentile 0.9 H (within sampling error)."""
    h = 300
    engine = TransitEngine(timetable_from_gtfs(_feed({"L": (["A", "B"], [0, 600], h)})))
    runs = engine.runs(_access(engine, "A"), start_s=8 * 3600, window_min=60, draws=40, limit_s=3600, seed=7)
    wait = runs.arrive[engine.tt.station_index()["B"]] - 600.0
    assert wait.min() >= 0.0
    assert wait.max() < h
    n = len(wait)  # 2,400 runs: the standard error of a quantile of U(0, H) is under 2 % of H
    assert n == 2400
    assert np.median(wait) == pytest.approx(h / 2, abs=0.04 * h)
    assert np.quantile(wait, 0.9) == pytest.approx(0.9 * h, abs=0.04 * h)
    # The deterministic journey waits exactly half a headway.
    eg = np.full(engine.tt.n_stations, np.inf)
    eg[engine.tt.station_index()["B"]] = 0.0
    j = engine.journey(_access(engine, "A"), eg, departure_s=8 * 3600, limit_s=3600)
    assert j is not None
    assert j.arrival_s - 8 * 3600 == pytest.approx(h / 2 + 600)


def test_a_transfer_takes_its_minimum_time_and_the_next_train() -> None:
    """A to C by changing at B: ride 600 s, transfer 300 s, wait half of 240 s, ride 300 s."""
    feed = _feed({"L1": (["A", "B"], [0, 600], 120), "L2": (["B", "C"], [0, 300], 240)}, transfer_s=300)
    engine = TransitEngine(timetable_from_gtfs(feed))
    eg = np.full(engine.tt.n_stations, np.inf)
    eg[engine.tt.station_index()["C"]] = 0.0
    j = engine.journey(_access(engine, "A"), eg, departure_s=9 * 3600, limit_s=7200)
    assert j is not None
    assert len(j.rides) == 2
    assert j.arrival_s - 9 * 3600 == pytest.approx(60 + 600 + 300 + 120 + 300)


def test_a_loop_is_ridden_across_its_seam() -> None:
    """On a loop A-B-C-D-A, from D to B goes on through A (not back round the other way)."""
    loop = (["A", "B", "C", "D", "A"], [0, 100, 200, 300, 400], 60)
    engine = TransitEngine(timetable_from_gtfs(_feed({"O": loop})))
    eg = np.full(engine.tt.n_stations, np.inf)
    eg[engine.tt.station_index()["B"]] = 0.0
    j = engine.journey(_access(engine, "D"), eg, departure_s=8 * 3600, limit_s=3600)
    assert j is not None
    assert [engine.tt.station_names[s] for s in engine.stations_between(j.rides[0])] == ["D", "A", "B"]
    assert j.arrival_s - 8 * 3600 == pytest.approx(30 + 200)


def test_a_closed_station_is_passed_through() -> None:
    """A shut station is neither boarded nor left; the train still runs through it."""
    engine = TransitEngine(timetable_from_gtfs(_feed({"L": (["A", "B", "C"], [0, 100, 200], 60)})))
    idx = engine.tt.station_index()
    closed = np.zeros(engine.tt.n_stations, dtype=bool)
    closed[idx["B"]] = True
    runs = engine.runs(_access(engine, "A"), start_s=8 * 3600, window_min=5, draws=1, limit_s=3600, closed=closed)
    assert np.isinf(runs.arrive[idx["B"]]).all()
    assert np.isfinite(runs.arrive[idx["C"]]).all()
    shut_origin = engine.runs(
        _access(engine, "B"), start_s=8 * 3600, window_min=5, draws=1, limit_s=3600, closed=closed
    )
    assert np.isinf(shut_origin.arrive).all()


def test_no_trips_after_the_service_ends() -> None:
    """Leaving after the last window, nothing is reached."""
    engine = TransitEngine(timetable_from_gtfs(_feed({"L": (["A", "B"], [0, 600], 300)})))
    runs = engine.runs(_access(engine, "A"), start_s=23 * 3600 + 60, window_min=10, draws=2, limit_s=3600)
    assert np.isinf(runs.arrive[engine.tt.station_index()["B"]]).all()


def test_percentiles_are_nearest_rank() -> None:
    """The percentiles of 1..10 by nearest rank: p50 = 5, p90 = 9; inf rows stay inf."""
    t = np.vstack([np.arange(1, 11, dtype=np.float32), np.full(10, np.inf, dtype=np.float32)])
    q = percentiles(t, (50, 90))
    assert q[50].tolist() == [5.0, np.inf]
    assert q[90].tolist() == [9.0, np.inf]


@pytest.mark.parametrize("text", ["8", "8h", "08:60", "48:00", "", "08:00:00:00", "-1:00", "٠٨:٠٠"])
def test_bad_clock_times_are_refused(text: str) -> None:
    """A time that does not parse names the field."""
    with pytest.raises(InvalidInputError, match="departure"):
        parse_clock(text, label="departure")


def test_clock_times_parse() -> None:
    """HH:MM and HH:MM:SS, and GTFS hours past midnight."""
    assert parse_clock("08:00", label="t") == 8 * 3600
    assert parse_clock("25:01:02", label="t") == 25 * 3600 + 62
