"""The site catalogue's look-ups and the kept site access points, on the shipped data."""

from __future__ import annotations

import pytest

from api.context import Context
from geo.errors import NotFoundError
from layers.networks import site_access


def test_sites_are_found_by_id_and_either_name(ctx: Context) -> None:
    by_id = ctx.sites.get("temple-of-heaven")
    assert by_id.name_en == "Temple of Heaven"
    assert by_id.name_zh == "天坛公园"
    for key in ("TEMPLE-OF-HEAVEN", " temple of heaven ", "Temple Of Heaven", "天坛公园"):
        assert ctx.sites.get(key).id == "temple-of-heaven"
    df = ctx.sites.frame()
    assert {ctx.sites.get(sid).id for sid in df["id"]} == set(df["id"])


def test_unknown_site_names_close_ones(ctx: Context) -> None:
    with pytest.raises(NotFoundError, match="Did you mean 'temple-of-heaven'"):
        ctx.sites.get("temple-of-heavn")


def test_a_caller_changing_its_site_does_not_change_the_catalogue(ctx: Context) -> None:
    site = ctx.sites.get("summer-palace")
    site.properties["name_en"] = "changed"
    assert ctx.sites.get("summer-palace").properties["name_en"] == "Summer Palace"


@pytest.mark.parametrize("sid", ["central-axis", "summer-palace", "lugou-bridge"])
def test_kept_site_access_points_equal_a_fresh_computation(ctx: Context, sid: str) -> None:
    first = ctx.routing.resolve(sid, mode="drive", label="site")
    again = ctx.routing.resolve(sid, mode="drive", label="site")
    site = ctx.sites.get(sid)
    net, fresh = site_access(
        ctx.networks,
        site.lon,
        site.lat,
        site.boundary_utm(),
        mode="drive",
        label=sid,
        max_distance_m=ctx.routing.site_access_max_m,
    )
    assert first.snap == again.snap == fresh
    assert first.network.name == net.name
