"""Isochrones, bands and coverage on the shipped data, against brute force (moved from tests/geo: they need the built context)."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import shapely
import shapely.validation

from api.context import Context
from geo import coverage as cov
from geo.crs import lonlat_to_utm, to_utm
from layers.routing import Place, ResolvedPlace

BANDS = (5.0, 10.0, 15.0, 30.0)


def _brute_minutes(ctx: Context, place: ResolvedPlace, *, reverse: bool) -> dict[int, float]:
    """Return minutes from (to) the place to (from) every node by networkx Dijkstra."""
    graph = place.network.graph.reverse(copy=False) if reverse else place.network.graph
    eng = ctx.routing.engine(place.network)
    best: dict[int, float] = {}
    for node, offset, _, _ in eng._ends(place.snap, "fastest", origin=not reverse):
        dist = nx.single_source_dijkstra_path_length(graph, int(eng.node_ids[node]), weight="travel_time_s")
        for n, d in dist.items():
            best[n] = min(best.get(n, np.inf), (d + offset) / 60.0)
    return best


@pytest.mark.parametrize(
    ("place", "mode", "reverse"),
    [
        ("temple-of-heaven", "drive", False),
        ("temple-of-heaven", "drive", True),
        ((116.3397, 39.9403), "drive", False),  # a point near Xizhimen
        ("summer-palace", "walk", False),
    ],
)
def test_isochrone_polygons_match_brute_force(ctx: Context, place: Place, mode: str, reverse: bool) -> None:
    resolved = ctx.routing.resolve(place, mode=mode, label="origin")
    index = ctx.coverage.index(resolved.network)
    reach = index.reach([resolved.snap], limit_min=max(BANDS), reverse=reverse)
    brute = _brute_minutes(ctx, resolved, reverse=reverse)
    eng = index.engine
    x, y = lonlat_to_utm(eng.lon, eng.lat)
    minutes = np.array([brute.get(int(n), np.inf) for n in eng.node_ids])
    for band in BANDS:
        poly = reach.band(band).polygon_utm()
        inside = shapely.contains_xy(poly, x, y)
        reached = minutes <= band
        assert reached.sum() > 0
        share_reached_inside = inside[reached].mean()
        share_inside_unreached = (inside & ~reached).sum() / max(inside.sum(), 1)
        assert share_reached_inside >= 0.97, (band, share_reached_inside)
        assert share_inside_unreached <= 0.03, (band, share_inside_unreached)


def test_bands_are_nested_and_have_holes(ctx: Context) -> None:
    iso = ctx.coverage.isochrone("temple-of-heaven", bands_min=BANDS)
    polys = [b.polygon for b in iso.bands]
    areas = [b.area_km2 for b in iso.bands]
    assert areas == sorted(areas)
    for small, big in itertools.pairwise(polys):
        # Nothing sticks out (beyond the 1e-7 degree rounding of the coordinates).
        assert shapely.area(shapely.difference(small, big)) < 1e-6 * shapely.area(small)
    # The park of the Temple of Heaven has no drivable road: it is a hole, not covered.
    site = ctx.sites.get("temple-of-heaven")
    park_centre = shapely.Point(site.lon, site.lat)
    band15 = polys[2]
    assert not band15.contains(park_centre)
    hull = shapely.MultiPolygon([shapely.Polygon(p.exterior) for p in band15.geoms])
    assert hull.contains(park_centre)


def test_population_agrees_with_area_weighted_townships(ctx: Context) -> None:
    iso = ctx.coverage.isochrone("temple-of-heaven", bands_min=(15.0, 30.0))
    towns = to_utm(ctx.coverage.townships)
    areas = towns.geometry.area.to_numpy()
    for band in iso.bands:
        x, y = lonlat_to_utm(*shapely.get_coordinates(band.polygon).T)
        poly_utm = shapely.set_coordinates(band.polygon, np.column_stack([x, y]))
        inter = shapely.area(shapely.intersection(towns.geometry.to_numpy(), poly_utm))
        independent = float((towns["population"].to_numpy() * inter / areas).sum())
        assert band.population == pytest.approx(independent, rel=0.02)
        assert band.population_share == pytest.approx(band.population / 20_755_648, rel=1e-6)
    # Per-township figures add up to the band's total.
    assert iso.townships["within_15"].sum() == pytest.approx(iso.bands[0].population, rel=1e-6)  # float32 raster


def test_stations_inside_follow_the_polygon(ctx: Context) -> None:
    iso = ctx.coverage.isochrone("temple-of-heaven", bands_min=(10.0,))
    band = iso.bands[0]
    st = ctx.layers.load("subway-stations")
    inside = shapely.contains_xy(band.polygon, st.geometry.x.to_numpy(), st.geometry.y.to_numpy())
    names = {n for ns in band.stations.values() for n in ns}
    assert names == set(st["name"][inside])
    assert "天坛东门" in band.stations["5号线"]


CANDIDATES = [
    "temple-of-heaven",
    "summer-palace",
    "lugou-bridge",
    "forbidden-city",
    "olympic-green",
    "beijing-west-station",
]


@pytest.fixture(scope="module")
def units(ctx: Context) -> cov.DemandUnits:
    resolved = [ctx.routing.resolve(c, mode="drive", label="c") for c in CANDIDATES]
    bands = [ctx.coverage.index(r.network).reach([r.snap], limit_min=15).band(15) for r in resolved]
    return cov.demand_units(bands, ctx.coverage.people)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_max_cover_equals_exhaustive_search(units: cov.DemandUnits, k: int) -> None:
    got = cov.choose_max_cover(units, k=k)
    best = exhaustive_max_cover(units, k=k)
    assert len(got.chosen) == k
    assert got.covered == pytest.approx(best.covered, rel=1e-9)


def test_min_sites_equals_exhaustive_search(units: cov.DemandUnits) -> None:
    got = cov.choose_min_sites(units)
    best = exhaustive_min_sites(units)
    assert len(got.chosen) == len(best.chosen)
    assert got.covered == pytest.approx(float(units.people.sum()), rel=1e-9)


def test_demand_units_keep_everyone(ctx: Context, units: cov.DemandUnits) -> None:
    # The union of the candidates' bands holds exactly the people of all units.
    resolved = [ctx.routing.resolve(c, mode="drive", label="c") for c in CANDIDATES]
    bands = [ctx.coverage.index(r.network).reach([r.snap], limit_min=15).band(15) for r in resolved]
    assert float(units.people.sum()) == pytest.approx(cov.population(cov.union(bands), ctx.coverage.people), rel=1e-9)


def test_surface_matches_routes(ctx: Context) -> None:
    sites = ["temple-of-heaven", "summer-palace"]
    surface, tf, resolved = ctx.coverage.surface(sites)
    assert np.isfinite(surface).sum() > 10_000
    assert np.nanmin(surface) == pytest.approx(0.0, abs=0.2)
    net = resolved[0].network
    eng = ctx.routing.engine(net)
    rng = np.random.default_rng(4)
    diffs = []
    for i in rng.choice(len(eng.node_ids), size=25, replace=False):
        lon, lat = float(eng.lon[i]), float(eng.lat[i])
        times = []
        for r in resolved:
            try:
                times.append(ctx.routing.routes((lon, lat), r.site_id or "", mode="drive")[0][0].travel_time_s / 60)
            except Exception:
                times.append(np.inf)
        x, y = lonlat_to_utm(np.array([lon]), np.array([lat]))
        col, row = ~tf @ (float(x[0]), float(y[0]))
        value = surface[int(row), int(col)]
        if np.isfinite(min(times)):
            assert value <= min(times) + 0.05  # the cell's best road is at least as quick
            diffs.append(min(times) - value)
    assert np.median(diffs) < 0.5


def test_grid_lonlat_fit_agrees_with_pyproj(ctx: Context) -> None:
    from geo.crs import utm_to_lonlat

    net = ctx.routing.resolve("temple-of-heaven", mode="drive", label="o").network
    grid = ctx.coverage.index(net).grid
    rng = np.random.default_rng(7)
    x = grid.x0 + rng.random(20_000) * grid.width * grid.cell_m
    y = grid.y0 - rng.random(20_000) * grid.height * grid.cell_m
    lon, lat = grid.lonlat(x, y)
    ref_lon, ref_lat = utm_to_lonlat(x, y)
    assert grid._lonlat_fit is not None
    assert float(np.abs(lon - ref_lon).max()) < 1e-8  # about 1 mm
    assert float(np.abs(lat - ref_lat).max()) < 1e-8


def test_every_site_band_is_valid_geojson(ctx: Context) -> None:
    # The polygons are served in WGS84 at 1e-7 degrees: carved junctions must stay clear of edges.
    checked = 0
    for sid in ctx.sites.ids():
        try:
            place = ctx.routing.resolve(sid, mode="drive", label="site")
        except Exception:
            continue
        reach = ctx.coverage.index(place.network).reach([place.snap], limit_min=30)
        for band in (5.0, 15.0, 30.0):
            poly = reach.band(band).polygon()
            assert poly.is_valid, (sid, band, shapely.validation.explain_validity(poly))
            checked += 1
    assert checked >= 17 * 3


def test_distance_bands_match_brute_force(ctx: Context) -> None:
    """`bands_m`: distance along the network, checked like the time bands against networkx."""
    resolved = ctx.routing.resolve("temple-of-heaven", mode="drive", label="origin")
    index = ctx.coverage.index(resolved.network, "shortest")
    eng = index.engine
    best: dict[int, float] = {}
    for node, offset, _, _ in eng._ends(resolved.snap, "shortest", origin=True):
        dist = nx.single_source_dijkstra_path_length(resolved.network.graph, int(eng.node_ids[node]), weight="length_m")
        for n, d in dist.items():
            best[n] = min(best.get(n, np.inf), d + offset)
    metres = np.array([best.get(int(n), np.inf) for n in eng.node_ids])
    x, y = lonlat_to_utm(eng.lon, eng.lat)
    iso = ctx.coverage.isochrone("temple-of-heaven", bands_min=None, bands_m=(1000.0, 3000.0))
    assert [b.metres for b in iso.bands] == [1000.0, 3000.0]
    for b in iso.bands:
        xy = shapely.get_coordinates(b.polygon)
        px, py = lonlat_to_utm(xy[:, 0], xy[:, 1])
        poly = shapely.set_coordinates(b.polygon, np.column_stack([px, py]))
        inside = shapely.contains_xy(poly, x, y)
        reached = metres <= b.metres
        assert reached.sum() > 10
        assert inside[reached].mean() >= 0.97, b.metres
        assert (inside & ~reached).sum() / max(inside.sum(), 1) <= 0.03, b.metres
    assert list(iso.townships.columns[-2:]) == ["within_1000m", "within_3000m"]


def test_a_band_that_reaches_the_network_edge_is_truncated(ctx: Context) -> None:
    iso = ctx.coverage.isochrone("central-axis", bands_min=(10.0, 30.0))
    short, long = iso.bands
    assert not short.truncated
    assert long.truncated
    # Independent: the 30-minute band holds road nodes within 300 m of the data's outermost nodes.
    net = iso.place.network
    eng = ctx.routing.engine(net)
    x, y = lonlat_to_utm(eng.lon, eng.lat)
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([x, y])))
    near_edge = shapely.dwithin(hull.exterior, shapely.points(x, y), 300.0)
    xy = shapely.get_coordinates(long.polygon)
    px, py = lonlat_to_utm(xy[:, 0], xy[:, 1])
    poly = shapely.set_coordinates(long.polygon, np.column_stack([px, py]))
    assert shapely.contains_xy(poly, x[near_edge], y[near_edge]).any()
    xy = shapely.get_coordinates(short.polygon)
    px, py = lonlat_to_utm(xy[:, 0], xy[:, 1])
    poly = shapely.set_coordinates(short.polygon, np.column_stack([px, py]))
    assert not shapely.contains_xy(poly, x[near_edge], y[near_edge]).any()


# Oracles: every combination of candidates (small n only).


def _covered(units: cov.DemandUnits, chosen: tuple[int, ...]) -> float:
    if not chosen:
        return 0.0
    hit = units.covers[:, list(chosen)].any(axis=1)
    return float(units.people[hit].sum())


def exhaustive_max_cover(units: cov.DemandUnits, *, k: int) -> cov.Choice:
    """Return the best ``k`` candidates by trying every combination (for checks; small n)."""
    n = units.covers.shape[1]
    best = max(itertools.combinations(range(n), k), key=lambda c: _covered(units, c))
    return cov.Choice(best, _covered(units, best))


def exhaustive_min_sites(units: cov.DemandUnits) -> cov.Choice:
    """Return the fewest candidates covering every coverable unit, by trying all (small n)."""
    n = units.covers.shape[1]
    everyone = _covered(units, tuple(range(n)))
    for size in range(n + 1):
        for combo in itertools.combinations(range(n), size):
            if (units.covers[:, list(combo)].any(axis=1) if combo else np.zeros(len(units.people), bool)).all():
                return cov.Choice(combo, _covered(units, combo))
    return cov.Choice(tuple(range(n)), everyone)
