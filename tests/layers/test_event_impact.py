"""The event-time impact model on the shipped data: windows, modes, queues, flows, the atlas."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from api.context import Context
from geo.eventtime import DAY_S, MODE_SHARES, ClockWindow
from geo.impact import impact_figures
from layers.atlas import closure_atlas
from layers.eventimpact import CENTRAL_DISTRICTS, TravelModel
from layers.impact import ClosurePlan
from layers.routing import Closures

CHANGAN = Closures(streets=("东长安街", "西长安街"))
CAR_ONLY = TravelModel({"car": 1.0}, "flat", 1.0)


def _at(h: float, minutes: float) -> ClockWindow:
    return ClockWindow(int(h * 3600), int(h * 3600 + minutes * 60))


def test_the_old_model_is_the_all_day_car_only_flat_case(ctx: Context) -> None:
    # Independently of the event model: the engine's township matrices and the old figures.
    imp = ctx.impact
    net = imp.network("drive")
    eng = ctx.routing.engine(net)
    towns = imp.towns(net)
    before = eng.matrix(towns.snaps, towns.snaps, metric="fastest")
    blocked = eng.edge_mask(ctx.routing.closed_edges(net, CHANGAN), metric="fastest")
    after = eng.matrix(towns.snaps, towns.snaps, metric="fastest", blocked=blocked)
    np.fill_diagonal(before, 0.0)
    np.fill_diagonal(after, 0.0)
    old = impact_figures(towns.population, before, after)
    res = imp.evaluate(ClosurePlan("ca", CHANGAN), travel=CAR_ONLY)
    assert res.person_hours_lost == pytest.approx(old.person_hours_lost, rel=1e-9)
    assert np.allclose(res.figures.mean_delay_s, old.mean_delay_s)
    assert np.allclose(res.figures.p90_delay_s, old.p90_delay_s)
    assert res.figures.total_cut_off == pytest.approx(old.total_cut_off)
    assert res.summary()["queue_person_hours"] == 0  # a closure of the whole day is never waited out


def test_windows_price_the_hours_they_hold(ctx: Context) -> None:
    imp = ctx.impact
    day = imp.evaluate(ClosurePlan("ca", CHANGAN)).person_hours_lost
    peak = imp.evaluate(ClosurePlan("ca", CHANGAN, window=_at(7.5, 90))).person_hours_lost
    late = imp.evaluate(ClosurePlan("ca", CHANGAN, window=_at(10, 60))).person_hours_lost
    assert 0 < late < peak < day
    # The same two-minute hold at the evening peak costs more than at 03:00.
    s17 = imp.evaluate(ClosurePlan("ca", CHANGAN, window=_at(17, 2))).summary()
    s03 = imp.evaluate(ClosurePlan("ca", CHANGAN, window=_at(3, 2))).summary()
    assert s17["person_hours_lost"] > 20 * s03["person_hours_lost"] > 0
    assert s17["queue_person_hours"] > 0
    by_hour = s17["person_hours_by_hour"]
    assert by_hour[17] == pytest.approx(s17["person_hours_lost"], abs=0.02)
    assert sum(by_hour) - by_hour[17] == pytest.approx(0.0, abs=1e-9)


def test_a_window_outside_every_trip_costs_nothing(ctx: Context) -> None:
    weights = tuple([0.0] * 6 + [1.0] * 18)  # nobody leaves before 06:00
    travel = TravelModel(dict(MODE_SHARES), weights)
    res = ctx.impact.evaluate(ClosurePlan("night", CHANGAN, window=_at(2, 120)), travel=travel)
    assert res.person_hours_lost == 0
    assert res.figures.total_cut_off == 0
    assert ctx.impact.evaluate(ClosurePlan("day", CHANGAN, window=_at(8, 60)), travel=travel).person_hours_lost > 0


def test_a_trip_pays_the_smaller_of_waiting_and_detouring(ctx: Context) -> None:
    imp = ctx.impact
    day = imp.evaluate(ClosurePlan("ca", CHANGAN, window=_at(17, 60)))
    hold = imp.evaluate(ClosurePlan("ca", CHANGAN, window=_at(17, 2)))
    detour_only = day.summary()["person_hours_by_hour"][17] * (2 / 60)  # the detours of a 2-minute share
    assert hold.summary()["queue_person_hours"] > 0
    assert hold.person_hours_lost <= detour_only + 1e-6  # waiting is chosen only where it is cheaper
    for t in hold.townships:  # a road trip waits at most the mean wait of a 2-minute hold at saturation
        assert t.queue_delay_s >= 0


def test_modes_split_the_cost_and_walking_is_delayed_by_areas_only(ctx: Context) -> None:
    imp = ctx.impact
    street = imp.evaluate(ClosurePlan("ca", CHANGAN)).summary()["person_hours_by_mode"]
    assert street["car"] > 0
    assert street["bus"] == pytest.approx(street["car"] * MODE_SHARES["bus"] / MODE_SHARES["car"], rel=1e-5)
    assert street["walk"] == street["bike"] == street["subway"] == 0  # streets stay open on foot
    area = shapely.box(116.385, 39.900, 116.405, 39.915)
    s = imp.evaluate(ClosurePlan("tam", Closures(areas=(area,)), window=_at(8, 120))).summary()
    assert s["person_hours_by_mode"]["walk"] > 0
    assert s["person_hours_by_mode"]["bike"] > 0
    assert s["person_hours_by_mode"]["subway"] > 0  # its stations' entrances are all inside the area


def test_the_trip_rate_is_the_central_citys_trips_over_its_residents(ctx: Context) -> None:
    t = ctx.coverage.townships
    central = t.loc[t["district"].isin(CENTRAL_DISTRICTS), "population"].sum()
    assert set(t["district"]) >= set(CENTRAL_DISTRICTS)
    rate = ctx.impact.event.trips_per_person(TravelModel())
    assert rate == pytest.approx(36.19e6 / 0.915 / central)
    assert 2.5 < rate < 4.0


def test_assigned_flows_conserve_each_townships_trips(ctx: Context) -> None:
    imp = ctx.impact
    net = imp.network("drive")
    eng = ctx.routing.engine(net)
    towns = imp.towns(net)
    trees, nodes = imp.event.trees(net, eng, towns)
    rng = np.random.default_rng(4)
    trips = rng.uniform(0, 100, (len(nodes), len(nodes)))
    np.fill_diagonal(trips, 0.0)
    flows = trees.flows(trips, nodes)
    src = eng._src["fastest"]
    dst = eng._dst["fastest"]
    balance = np.zeros(len(eng.lon))
    np.add.at(balance, dst, flows)
    np.subtract.at(balance, src, flows)
    reached = (trees.arc[:, nodes] >= 0) | (nodes[None, :] == nodes[:, None])
    loaded = trips * reached * (nodes[None, :] != nodes[:, None])
    want = np.zeros(len(eng.lon))
    np.add.at(want, nodes, loaded.sum(axis=0) - loaded.sum(axis=1))
    assert np.allclose(balance, want, atol=1e-6)
    assert reached.mean() > 0.95


def test_closing_a_link_never_shortens_a_trip(ctx: Context) -> None:
    imp = ctx.impact
    net = imp.network("drive")
    eng = ctx.routing.engine(net)
    towns = imp.towns(net)
    before = imp.event.car_before(net, eng, towns)
    blocked = eng.edge_mask(ctx.routing.closed_edges(net, CHANGAN), metric="fastest")
    after = imp._matrix(net, eng, towns, blocked)
    assert np.all(after >= before - 1e-6)


def test_the_atlas_prices_every_link_and_peaks_in_the_evening(ctx: Context) -> None:
    imp = ctx.impact
    net = imp.network("drive")
    towns = imp.towns(net)
    a17 = closure_atlas(imp.event, net, towns, TravelModel(), hour=17, minutes=2)
    a03 = closure_atlas(imp.event, net, towns, TravelModel(), hour=3, minutes=2)
    assert len(a17.rows) > 5000
    assert np.all(a17.cost_person_hours >= 0)
    assert a17.cost_person_hours.sum() > 20 * a03.cost_person_hours.sum()
    # Where a trip waits, the wait is the deterministic queue's; where it detours, the way round is shorter.
    w = np.array([c == "wait" for c in a17.choice])
    assert np.all(a17.wait_s[w] <= a17.detour_s[w])
    assert np.all(a17.detour_s[~w & np.isfinite(a17.detour_s)] <= a17.wait_s[~w & np.isfinite(a17.detour_s)])
    assert a17.hour == 17
    assert DAY_S == 86400


def test_the_link_flows_layer_holds_the_atlas_flows_by_hour(ctx: Context) -> None:
    from layers.atlas import link_flows

    imp = ctx.impact
    net = imp.network("drive")
    layer = link_flows(imp.event, net, TravelModel())
    atlas = closure_atlas(imp.event, net, imp.towns(net), TravelModel(), hour=17, minutes=2)
    assert len(layer) == len(atlas.rows)
    assert np.allclose(layer["cars_h17"].to_numpy(), atlas.flow_veh_h, atol=0.06)
    hours = layer[[f"cars_h{h:02d}" for h in range(24)]].to_numpy().sum(axis=1)
    assert np.allclose(hours, layer["cars_per_day"].to_numpy(), rtol=1e-3, atol=1.5)
