"""Closure impact on the shipped data, against networkx and the issue's checks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

from api.context import Context
from geo.crs import distance_m
from geo.errors import InvalidInputError, NotFoundError
from geo.snapping import Snap
from layers.eventimpact import TravelModel
from layers.impact import ClosurePlan, ImpactResult
from layers.networks import SEED_NETWORK
from layers.routing import Closures

CAR_ONLY = TravelModel({"car": 1.0}, "flat", 1.0)  # the model before time windows: one trip a day, by car

CHANGAN = ClosurePlan("Chang'an", Closures(streets=("东长安街", "西长安街")))
TIANANMEN = (116.3975, 39.9087)


def test_empty_plan_costs_nothing(ctx: Context) -> None:
    res = ctx.impact.evaluate(ClosurePlan())
    assert len(res.townships) > 100
    assert all(t.mean_delay_s == 0 and t.p90_delay_s == 0 and t.people_cut_off == 0 for t in res.townships)
    assert res.person_hours_lost == 0
    assert res.top_pairs == []
    assert all(t.entrance_walk_before_s == t.entrance_walk_after_s for t in res.townships)


def test_closing_a_street_never_shortens_a_trip(ctx: Context) -> None:
    net = ctx.networks.get(SEED_NETWORK, "drive")
    eng = ctx.routing.engine(net)
    towns = ctx.impact.towns(net)
    for street in ("前门大街", "东长安街", "北四环西路"):
        shut = ctx.routing.closed_edges(net, Closures(streets=(street,)))
        blocked = eng.edge_mask(shut, metric="fastest")
        before = eng.matrix(towns.snaps, towns.snaps)
        after = eng.matrix(towns.snaps, towns.snaps, blocked=blocked)
        assert np.all(after >= before - 1e-3), street
        assert np.any(after > before + 1.0), street  # and it matters somewhere


def test_changan_delays_tiananmen_more_than_15_km_away(ctx: Context) -> None:
    res = ctx.impact.evaluate(CHANGAN)
    t = ctx.coverage.townships.set_index("township_id")
    near, far = [], []
    for ti in res.townships:
        p = t.loc[ti.township_id].geometry.representative_point()
        d = float(distance_m(TIANANMEN[0], TIANANMEN[1], p.x, p.y))
        (near if d < 3000 else far if d > 15000 else []).append(ti.mean_delay_s)
    assert len(near) >= 3
    assert len(far) >= 10
    assert np.mean(near) > 5 * max(np.mean(far), 0.1)
    assert res.person_hours_lost > 0
    assert res.top_pairs
    worst = res.top_pairs[0]
    assert worst.after_s > worst.before_s
    shut = ctx.routing.closed_edges(res.network, CHANGAN.closures)
    assert not {(u, v) for u, v, _ in worst.after.edges} & shut


def test_a_closure_ring_cuts_a_township_off_and_says_so(ctx: Context) -> None:
    net = ctx.networks.get(SEED_NETWORK, "drive")
    towns = ctx.impact.towns(net)
    k = int(np.argmin(distance_m(towns.lon, towns.lat, 116.40, 39.93)))  # a township of the old city
    lon, lat = towns.lon[k], towns.lat[k]
    ring = shapely.Point(lon, lat).buffer(0.012).difference(shapely.Point(lon, lat).buffer(0.008))
    inside = shapely.contains_xy(shapely.Point(lon, lat).buffer(0.008), towns.lon, towns.lat)  # within the ring
    res = ctx.impact.evaluate(ClosurePlan("ring", Closures(areas=(ring,))), travel=CAR_ONLY)
    got = res.townships[k]
    # Every trip that leaves the ring is cut off; trips to townships inside it are not.
    assert got.people_cut_off == pytest.approx(got.population * (1 - _share_inside(res, k, inside)), rel=1e-6)
    assert got.people_cut_off > 0.5 * got.population
    assert res.summary()["people_cut_off"] >= got.people_cut_off
    assert any(e for e in res.entrances_closed)  # entrances inside the ring are shut with it


def _share_inside(res: ImpactResult, k: int, inside: np.ndarray) -> float:
    """Share of township k's trips that stay inside the ring (not cut off)."""
    return float(res.figures.shares[k][inside].sum())


def _reference(g: nx.MultiDiGraph, a: Snap, b: Snap) -> float:
    """Fastest time between two snapped points in networkx: the snapped edges split at the points."""
    best = np.inf
    starts: list[tuple[int, float]] = []
    for u, v, k, f in a.candidates():
        starts.append((v, (1 - f) * g.edges[u, v, k]["travel_time_s"]))
        for kk, d in (g.get_edge_data(v, u) or {}).items():
            del kk
            starts.append((u, f * d["travel_time_s"]))
    ends: list[tuple[int, float]] = []
    for u, v, k, f in b.candidates():
        ends.append((u, f * g.edges[u, v, k]["travel_time_s"]))
        for d in (g.get_edge_data(v, u) or {}).values():
            ends.append((v, (1 - f) * d["travel_time_s"]))
    for s, cs in starts:
        try:
            dist = nx.single_source_dijkstra_path_length(g, s, weight="travel_time_s")
        except nx.NodeNotFound:
            continue
        for e, ce in ends:
            if e in dist:
                best = min(best, cs + dist[e] + ce)
    return best


def test_pair_delays_equal_networkx_without_the_closed_edges(ctx: Context) -> None:
    res = ctx.impact.evaluate(CHANGAN)
    net = res.network
    g = net.graph
    towns = ctx.impact.towns(net)
    shut = ctx.routing.closed_edges(net, CHANGAN.closures)
    reduced = g.copy()
    snapped = {(s.u, s.v) for s in towns.snaps}
    reduced.remove_edges_from([(u, v, k) for u, v, k in g.edges(keys=True) if (u, v) in shut and (u, v) not in snapped])
    delay = res.figures.delay_s
    rng = np.random.default_rng(15)
    # Pairs among the townships the closure delays, and some others.
    hit = [i for i, t in enumerate(res.townships) if t.mean_delay_s > 0]
    checked = 0
    for _ in range(60):
        i = int(rng.choice(hit))
        j = int(rng.integers(len(towns.rows)))
        if i == j or not np.isfinite(delay[i, j]):
            continue
        a, b = towns.snaps[i], towns.snaps[j]
        ref = _reference(reduced, a, b) - _reference(g, a, b)
        assert delay[i, j] == pytest.approx(max(ref, 0.0), abs=0.05), (i, j)
        checked += 1
        if checked >= 15:
            break
    assert checked >= 10


def test_bad_plans_are_refused(ctx: Context) -> None:
    with pytest.raises(InvalidInputError, match=r"no street named '长安街'.*Did you mean"):
        ctx.impact.evaluate(ClosurePlan(closures=Closures(streets=("长安街",))))
    with pytest.raises(InvalidInputError, match="lies outside network"):
        ctx.impact.evaluate(ClosurePlan(closures=Closures(areas=(shapely.box(117.0, 40.6, 117.01, 40.61),))))
    with pytest.raises(InvalidInputError, match="no subway entrance or station named"):
        ctx.impact.evaluate(ClosurePlan(entrances=("天安门东 Z出口",)))
    with pytest.raises(NotFoundError):
        ctx.impact.evaluate(ClosurePlan(sites=("atlantis",)))
    with pytest.raises(InvalidInputError, match="at least two plans"):
        ctx.impact.compare([CHANGAN])


def test_closing_a_station_lengthens_the_walk_to_the_subway_nearby(ctx: Context) -> None:
    # All the entrances of the stations around Tiananmen.
    stations = ("天安门东", "天安门西", "前门", "王府井")
    res = ctx.impact.evaluate(ClosurePlan("stations", entrances=stations))
    assert len(res.entrances_closed) >= 8
    longer = [
        t
        for t in res.townships
        if t.entrance_walk_before_s is not None
        and (t.entrance_walk_after_s is None or t.entrance_walk_after_s > t.entrance_walk_before_s)
    ]
    assert longer
    assert all(t.mode_delay_s["car"] == 0 for t in res.townships)  # no road closed
    # The shut stations delay subway trips (all their entrances are closed), nobody else's.
    assert max(t.mode_delay_s["subway"] for t in res.townships) > 0
    assert res.summary()["person_hours_by_mode"]["subway"] > 0
    for t in res.townships:
        if t.entrance_walk_before_s is not None and t.entrance_walk_after_s is not None:
            assert t.entrance_walk_after_s >= t.entrance_walk_before_s - 1e-6


def test_a_plan_on_the_regional_network_covers_the_municipality(ctx: Context) -> None:
    # An expressway closure (not walkable: the walk to the subway is unchanged) on the whole municipality.
    res = ctx.impact.evaluate(ClosurePlan("G4", Closures(streets=("京开高速",))), network="beijing-regional")
    assert res.network.name == "beijing-regional"
    assert len(res.townships) > 250
    assert res.person_hours_lost > 0
    assert any("regional skeleton" in w for w in res.warnings)
    assert all(t.entrance_walk_before_s == t.entrance_walk_after_s for t in res.townships)
    # Townships far from the central walk network get no walk figure rather than a made-up one.
    assert any(t.entrance_walk_before_s is None for t in res.townships)


def test_the_sites_a_plan_serves_report_their_access(ctx: Context) -> None:
    # The Forbidden City's access road lies on the closed avenue's side; people still reach it, more slowly.
    plan = ClosurePlan("Chang'an", CHANGAN.closures, sites=("forbidden-city", "yanqi-lake"))
    res = ctx.impact.evaluate(plan)
    fc, yanqi = res.sites
    assert fc.site_id == "forbidden-city"
    assert fc.mean_before_s is not None
    assert fc.mean_after_s is not None
    assert fc.mean_after_s >= fc.mean_before_s - 1e-6
    assert fc.people_cut_off == 0
    # Independent: the people-weighted mean of single routes from every township (before the closures).
    net = res.network
    towns = ctx.impact.towns(net)
    site = ctx.routing.resolve("forbidden-city", mode="drive", label="site", network=net)
    eng = ctx.routing.engine(net)
    times = np.array([eng.route(s, site.snap).travel_time_s for s in towns.snaps])
    assert fc.mean_before_s == pytest.approx(float((towns.population * times).sum() / towns.population.sum()), rel=1e-6)
    # A far site is not on the central network: said, not guessed.
    assert yanqi.mean_before_s is None
    assert "not on network" in (yanqi.note or "")
