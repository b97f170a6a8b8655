"""The shipped subway feed and transit routing, checked against the validator, real facts and independent computations."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.errors import NoRouteError, OutsideCoverageError
from geo.transit import Destination, TransitEngine
from layers.transit import MAX_WALK_MIN, TransitService, Window

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from api.context import Context

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_feed_passes_the_gtfs_validator(tmp_path: Path) -> None:
    """MobilityData's rule set (the gtfs-validator port on PyPI) finds no ERROR in the modelled feed."""
    exe = Path(sys.executable).with_name("gtfs-validator")
    subprocess.run(
        [str(exe), "-i", str(SEEDS / "subway_gtfs"), "-o", str(tmp_path), "-d", "2026-12-03"],
        check=True,
        capture_output=True,
    )
    report = json.loads((tmp_path / "report.json").read_text())
    errors = [n["code"] for n in report["notices"] if n["severity"] == "ERROR"]
    assert errors == []
    assert report["summary"]["counts"]["Trips"] == 51


def _lines() -> dict[str, dict[str, Any]]:
    doc = json.loads((SEEDS / "subway_lines.json").read_text(encoding="utf-8"))
    return {ln["id"]: ln for ln in doc["lines"]}


def test_lines_follow_the_real_station_order() -> None:
    """Line 2's loop, line 4 with 北宫门 and its run-through to 天宫院, line 10's two code groups, the airport lasso."""
    lines = _lines()
    assert [s["name"] for s in lines["02"]["stations"]] == [
        "西直门",
        "车公庄",
        "阜成门",
        "复兴门",
        "长椿街",
        "宣武门",
        "和平门",
        "前门",
        "崇文门",
        "北京",
        "建国门",
        "朝阳门",
        "东四十条",
        "东直门",
        "雍和宫",
        "安定门",
        "鼓楼大街",
        "积水潭",
    ]
    line4 = [s["name"] for s in lines["04"]["stations"]]
    assert line4[:4] == ["安河桥北", "北宫门", "西苑", "圆明园"]
    assert line4[line4.index("角门西") + 1 : line4.index("角门西") + 3] == ["公益西桥", "新宫"]
    assert line4[-1] == "天宫院"
    line10 = [s["name"] for s in lines["10"]["stations"]]
    assert len(line10) == 44  # 45 stations in service; 六里桥 is missing from the data
    assert line10[line10.index("劲松") + 1] == "潘家园"
    assert (line10[0], line10[-1]) == ("苏州街", "巴沟")
    assert lines["10"]["shape"] == lines["02"]["shape"] == "loop"
    assert [s["name"] for s in lines["01"]["stations"]][-2:] == ["花庄", "环球度假区"]


def test_missing_stations_are_listed_where_they_belong() -> None:
    """Known stations absent from the data show up as code gaps between their real neighbours."""
    gaps = {g["code"]: (ln, g["after"], g["before"]) for ln, v in _lines().items() for g in v["missing"]}
    assert gaps["900053"] == ("10", "西局", "莲花桥")  # 六里桥
    assert gaps["890029"] == ("xj", "茶棚", "巴沟")  # 颐和园西门
    assert gaps["080045"] == gaps["080047"] == ("08", "金鱼胡同", "珠市口")  # 王府井, 前门
    assert gaps["060067"] == ("06", "通州北关", "北运河西")  # 通运门
    assert {"140047", "140059", "140069", "140081"} <= set(gaps)  # 陶然桥, 南八里庄, 红庙, 高家园
    assert "040023" not in gaps  # 北宫门 has no code in the data and is placed there


def test_every_code_step_of_the_data_is_accounted_for() -> None:
    """Per code group, the stations present plus the gaps listed make an unbroken run of codes."""
    for lid, ln in _lines().items():
        codes: dict[str, set[int]] = {}
        for s in ln["stations"]:
            if s["code"]:
                codes.setdefault(s["code"][:2], set()).add(int(s["code"][2:]))
        for g in ln["missing"]:
            codes.setdefault(g["code"][:2], set()).add(int(g["code"][2:]))
        if lid == "04":
            codes["04"].add(23)  # 北宫门
        for prefix, nums in codes.items():
            run = sorted(nums)
            steps = {b - a for a, b in itertools.pairwise(run)}
            assert steps <= {1, 2}, (lid, prefix, run)


def test_run_times_agree_with_the_published_ones(ctx: Context) -> None:
    """Line 10 round in about 104 min (57.1 km); line 4 with the Daxing line, 49.96 km at about 35 km/h."""
    tt = ctx.transit.engine.tt
    by_line = {(line, i) for i, line in enumerate(tt.pat_line)}
    loop = next(i for line, i in sorted(by_line) if line == "10")
    n = int(tt.pat_positions[loop])
    round_min = (tt.pat_secs[tt.pat_start[loop] + n - 1] - tt.pat_secs[tt.pat_start[loop]]) / 60
    assert round_min == pytest.approx(104.0, rel=0.03)
    p4 = next(i for line, i in sorted(by_line) if line == "04")
    run4 = (tt.pat_secs[tt.pat_start[p4 + 1] - 1] - tt.pat_secs[tt.pat_start[p4]]) / 60
    assert run4 == pytest.approx(49.96 / 35.0 * 60, rel=0.05)


class TimeExpanded(NamedTuple):
    """A time-expanded graph: event nodes (station, time), their waiting chains, and each station's departures."""

    graph: csr_matrix
    station: NDArray[np.int64]
    time: NDArray[np.float64]
    order: NDArray[np.int64]
    departures: dict[int, NDArray[np.int64]]


def _time_expanded(engine: TransitEngine, phase: NDArray[np.float64], dep: float, horizon: float) -> TimeExpanded:
    """Build an independent time-expanded graph of every trip leaving in [dep - 3 h, dep + horizon]."""
    tt = engine.tt
    ev_station, ev_time, ride_u, ride_v, ride_w = [], [], [], [], []
    for p in range(len(tt.pat_line)):
        a, b = int(tt.pat_start[p]), int(tt.pat_start[p + 1])
        secs = tt.pat_secs[a:b]
        for w in range(len(tt.win_start)):
            t = tt.win_start[w] + phase[p, w]
            while t < tt.win_end[w]:
                if dep - 3 * 3600 <= t <= dep + horizon:
                    base = len(ev_time)
                    ev_station += tt.pat_stops[a:b].tolist()
                    ev_time += (t + secs).tolist()
                    ride_u += range(base, base + b - a - 1)
                    ride_v += range(base + 1, base + b - a)
                    ride_w += np.diff(secs).tolist()
                t += tt.headway[p, w]
    st, tm = np.array(ev_station), np.array(ev_time)
    n_ev = len(tm)
    order = np.lexsort((tm, st))  # the departures of each station in time order: the waiting chain
    chain = np.arange(n_ev, 2 * n_ev)  # chain node of each event, in `order`
    u, v, w = list(ride_u), list(ride_v), list(ride_w)
    same = st[order][1:] == st[order][:-1]
    u += chain[:-1][same].tolist()
    v += chain[1:][same].tolist()
    w += (tm[order][1:] - tm[order][:-1])[same].tolist()
    u += chain.tolist()  # board
    v += order.tolist()
    w += [0.0] * n_ev
    # alight: to the first departure of the station at least the transfer time later
    pos_of = {s: np.flatnonzero(st[order] == s) for s in np.unique(st)}
    for e in range(n_ev):
        s = st[e]
        idx = pos_of[s]
        k = np.searchsorted(tm[order][idx], tm[e] + tt.transfer_s[s])
        if k < len(idx):
            u.append(e)
            v.append(n_ev + idx[k])
            w.append(tm[order][idx[k]] - tm[e])
    graph = csr_matrix((np.maximum(w, 1e-9), (u, v)), shape=(2 * n_ev + 1, 2 * n_ev + 1))
    return TimeExpanded(graph, st, tm, order, {int(s): v for s, v in pos_of.items()})


def test_raptor_equals_a_time_expanded_dijkstra(ctx: Context) -> None:
    """For 200 random station pairs and a fixed service phase, RAPTOR's earliest arrival equals scipy's Dijkstra."""
    engine = TransitEngine(ctx.transit.engine.tt, max_rides=12)
    tt = engine.tt
    rng = np.random.default_rng(24)
    phase = rng.random(tt.headway.shape) * np.where(np.isfinite(tt.headway), tt.headway, 0.0)
    dep, horizon = 8 * 3600.0, 3 * 3600.0
    graph, st, tm, order, pos_of = _time_expanded(engine, phase, dep, horizon)
    n_ev = len(tm)
    source = 2 * n_ev
    checked = 0
    for o in rng.choice(tt.n_stations, size=40, replace=False):
        idx = pos_of[int(o)]
        k = np.searchsorted(tm[order][idx], dep)
        start = csr_matrix(([max(tm[order][idx[k]] - dep, 1e-9)], ([source], [n_ev + idx[k]])), shape=graph.shape)
        dist = dijkstra(graph + start, indices=source)
        te = np.full(tt.n_stations, np.inf)
        np.minimum.at(te, st, dist[:n_ev])
        acc = np.full(tt.n_stations, np.inf)
        acc[o] = 0.0
        ra = engine.arrivals(acc, departure_s=dep, phase=phase, limit_s=horizon) - dep
        for d in rng.choice(np.setdiff1d(np.arange(tt.n_stations), [o]), size=5, replace=False):
            if te[d] < horizon - 3600:  # well inside the horizon of trips built
                assert ra[d] == pytest.approx(te[d], abs=1.0), (tt.station_names[o], tt.station_names[d])
                checked += 1
    assert checked >= 180


def test_route_legs_and_distribution(ctx: Context) -> None:
    """Temple of Heaven to Olympic Green: line 5 then 15, p50 <= p90, the legs add up to the mean-wait total."""
    ans = ctx.transit.route("temple-of-heaven", "olympic-green", window=Window.parse("08:00", 60))
    tt = ctx.transit.engine.tt
    assert ans.journey is not None
    lines = [tt.pat_line[r.pattern] for r in ans.journey.rides]
    assert lines[0] == "05"
    assert ans.percentile(50) <= ans.percentile(90)
    assert 30 * 60 < ans.percentile(50) < 70 * 60
    assert len(ans.totals_s) == 60 * Window.parse("08:00", 60).draws
    legs = ans.access.seconds[ans.journey.access_station] + ans.egress.seconds[ans.journey.egress_station]
    assert ans.journey_total_s == pytest.approx(
        ans.journey.arrival_s - 8 * 3600 + ans.egress.seconds[ans.journey.egress_station]
    )
    assert legs < ans.journey_total_s


def test_a_place_far_from_any_walkable_station_is_told_so(ctx: Context) -> None:
    """Yanqi Lake lies off the walk network; the answer names the nearest station and its distance."""
    with pytest.raises(OutsideCoverageError, match=r"nearest subway station, 俸伯, is 2\d\.\d km away"):
        ctx.transit.route("yanqi-lake", "olympic-green", window=Window.parse("08:00", 60))


def test_no_station_within_the_walk_limit(ctx: Context) -> None:
    """The Summer Palace's access point has no station within 20 minutes' walk on the 2013 roads."""
    with pytest.raises(NoRouteError, match=f"within {MAX_WALK_MIN:g} minutes' walk"):
        ctx.transit.route("forbidden-city", "summer-palace", window=Window.parse("08:00", 60))


def test_walking_alone_when_it_is_faster(ctx: Context) -> None:
    """Two points 500 m apart: the walk alone beats any subway trip."""
    ans = ctx.transit.route((116.400, 39.905), (116.405, 39.906), window=Window.parse("10:00", 30))
    assert np.all(ans.totals_s == ans.walk_only_s)
    assert ans.walk_only_s < 15 * 60


def test_pruned_runs_give_the_unpruned_door_to_door_times(ctx: Context) -> None:
    """The route's pruning (the known journey timed per run, the lower bound per station) changes no run's answer.

    The reference keeps every station's arrival (no destination, no bound) and takes the
    door-to-door minimum afterwards: for 60 random pairs of stations' neighbourhoods, every
    one of the 240 runs of an 08:00-09:00 window agrees to the second, also with a station shut.
    """
    ts = ctx.transit
    tt = ts.engine.tt
    rng = np.random.default_rng(7)
    window = Window.parse("08:00", 60)
    closed = np.zeros(tt.n_stations, dtype=bool)
    closed[tt.station_names.index("东单")] = True
    checked = 0
    for o, d in rng.choice(tt.n_stations, size=(60, 2)):
        if o == d:
            continue
        acc = np.full(tt.n_stations, np.inf)
        egr = np.full(tt.n_stations, np.inf)
        acc[o], egr[d] = 120.0, 180.0
        shut = closed if checked % 2 else None
        journey = ts.engine.journey(acc, egr, departure_s=window.start_s, limit_s=10800.0, closed=shut)
        kw = {"start_s": window.start_s, "window_min": window.minutes, "draws": window.draws, "closed": shut}
        fast = ts.engine.runs(acc, limit_s=10800.0, to=Destination(egr, journey), **kw)
        full = ts.engine.runs(acc, limit_s=10800.0, **kw)
        got = np.min(fast.arrive + egr[:, None], axis=0)
        want = np.min(full.arrive + egr[:, None], axis=0)
        np.testing.assert_allclose(got, want, atol=1e-6)
        checked += int(np.isfinite(want).all())
    assert checked >= 50


def test_the_egress_table_kept_on_disk_is_the_one_computed(ctx: Context) -> None:
    """A restart reads the stations' walks from the cache folder: the same table as computing it again."""
    net = ctx.transit.walk_network()
    ctx.transit.egress_table(net)
    assert len(list(ctx.settings.cache_dir.glob(f"{net.cache_key}.egress-*.pkl"))) == 1
    restarted = TransitService(ctx.settings.seeds_dir, ctx.routing).egress_table(net)
    computed = ctx.transit.walks(net).egress_table(limit_s=MAX_WALK_MIN * 60.0)
    assert computed[1].size > 10_000
    for a, b in zip(restarted, computed, strict=True):
        np.testing.assert_array_equal(a, b)
