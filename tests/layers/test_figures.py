"""The index page's key figures per site, checked against independent computations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pyproj import Geod

from api.context import Context
from layers.figures import FIGURES_ORIGIN, SiteFigures, site_figures
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def figures(ctx: Context) -> dict[str, SiteFigures]:
    counts = {"summer-palace": 2, "three-hills-five-gardens": 1, "wanping": 4, "no-such-site": 7}
    return {f.id: f for f in site_figures(ctx.routing, ctx.coverage, ctx.layers, counts)}


def test_every_place_but_the_sub_sites_in_catalogue_order(figures: dict[str, SiteFigures]) -> None:
    feats = json.loads((SEEDS / "sites.geojson").read_text())["features"]
    expected = [f["properties"]["id"] for f in feats if f["properties"]["kind"] != "sub_site"]
    assert list(figures) == expected
    assert len(expected) == 11


def test_nearest_station_against_an_ellipsoidal_brute_force(figures: dict[str, SiteFigures], ctx: Context) -> None:
    st = json.loads((SEEDS / "subway_stations.geojson").read_text())["features"]
    lon = np.array([f["geometry"]["coordinates"][0] for f in st])
    lat = np.array([f["geometry"]["coordinates"][1] for f in st])
    geod = Geod(ellps="WGS84")
    for sid, f in figures.items():
        site = ctx.sites.get(sid)
        _, _, d = geod.inv(np.full(lon.size, site.lon), np.full(lat.size, site.lat), lon, lat)
        j = int(np.argmin(d))
        assert f.station == st[j]["properties"]["name"], sid
        assert f.station_m == pytest.approx(d[j], rel=0.005), sid


def test_people_equal_a_one_site_coverage(figures: dict[str, SiteFigures], ctx: Context) -> None:
    for sid in ("central-axis", "lugou-wanping", "beijing-west-station"):
        one = ctx.coverage.site_set([sid], mode="drive", minutes=15.0)
        assert figures[sid].people == pytest.approx(one.union.population, rel=0.01), sid
        assert figures[sid].people_lower_bound == one.union.truncated
    people = figures["central-axis"].people
    assert people is not None
    assert people > 1e6
    # The far sites are counted on the regional skeleton, and say so.
    assert figures["yanqi-lake"].people_coarse
    assert figures["grand-canal"].people_coarse
    assert not figures["central-axis"].people_coarse


def test_drive_from_the_airport(figures: dict[str, SiteFigures]) -> None:
    origin = figures[FIGURES_ORIGIN]
    assert origin.is_origin
    assert origin.from_origin_s is None
    # About 25 km by the airport expressway and the second ring: between 20 and 40 minutes.
    axis = figures["central-axis"].from_origin_s
    assert axis is not None
    assert 20 * 60 < axis < 40 * 60
    # Yanqi Lake lies 36 km away in a straight line: the regional skeleton answers, and slower.
    lake = figures["yanqi-lake"].from_origin_s
    assert lake is not None
    assert lake > axis


def test_proposals_count_the_sub_sites(figures: dict[str, SiteFigures]) -> None:
    assert figures["three-hills-five-gardens"].proposals == 3
    assert figures["lugou-wanping"].proposals == 4
    assert figures["central-axis"].proposals == 0


def test_the_warm_up_computes_the_bands_every_site_page_shows(ctx: Context) -> None:
    """Each site's page draws the bands of the first mode that reaches it: the warm-up made exactly those."""
    ctx.coverage.warm_sites()
    held = len(ctx.coverage._iso_cache)
    shown = 0
    for sid in ctx.sites.ids():
        page_mode = next((a.mode for a in ctx.routing.site_networks(sid) if a.network is not None), None)
        if page_mode is None:
            continue
        ctx.coverage.site_bands(sid, page_mode)
        shown += 1
    assert len(ctx.coverage._iso_cache) == held  # every page's bands were already there
    assert shown == len(ctx.sites.ids())  # every place is reached (far ones on the regional network)
