"""mode=transit over HTTP: routes, matrices, isochrones, coverage, the lines, and bad input."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.routers.transit import LineCollection
from api.settings import Settings
from api.transit import TransitRouteCollection

TRIP = {"origin": "temple-of-heaven", "destination": "olympic-green", "mode": "transit"}


def test_transit_route_legs(client: TestClient, settings: Settings) -> None:
    """Walk, line 5, line 15, walk; each ride in the line's colour of routes.txt; the legs add up."""
    r = client.post("/routes", json=TRIP)
    assert r.status_code == 200
    doc = r.json()
    TransitRouteCollection.model_validate(doc)
    legs = [f["properties"] for f in doc["features"]]
    assert [leg["kind"] for leg in legs] == ["walk", "ride", "ride", "walk"]
    assert [leg["line_name"] for leg in legs[1:3]] == ["5号线", "15号线"]
    routes = pd.read_csv(settings.seeds_dir / "subway_gtfs" / "routes.txt", dtype=str).set_index("route_short_name")
    for leg in legs[1:3]:
        assert leg["colour"] == "#" + routes.loc[leg["line_name"], "route_color"]
    assert legs[1]["to_name"] == legs[2]["from_name"] == "大屯路东"
    assert legs[2]["transfer_s"] == 300
    assert legs[1]["wait_s"] == 75.0  # half of line 5's 2.5-minute peak headway
    s = doc["summary"]
    total = sum(leg["travel_time_s"] + leg["wait_s"] + leg["transfer_s"] for leg in legs)
    assert total == pytest.approx(s["mean_wait_s"], abs=0.5)
    assert s["p50_s"] <= s["p90_s"]
    assert s["chosen"] == "transit"
    assert s["departure_window"] == "08:00-09:00"
    assert any("modelled" in w for w in s["warnings"])
    assert doc["attribution"].startswith("© OpenStreetMap contributors")
    ride = doc["features"][1]["geometry"]["coordinates"]
    assert len(ride) == legs[1]["stops"] + 1
    got = client.get("/routes", params={**TRIP, "departure": "08:00", "window_min": 60})
    assert got.status_code == 200
    assert got.json()["summary"] == s


def test_transit_route_downloads_as_geopackage(client: TestClient) -> None:
    """The legs as a GeoPackage layer."""
    r = client.post("/routes?format=gpkg", json=TRIP)
    assert r.status_code == 200
    assert r.content[:16] == b"SQLite format 3\x00"


def test_shut_station_is_not_used(client: TestClient) -> None:
    """With 大屯路东 (the change) shut, no ride boards or leaves there; shutting the only near station is an error."""
    r = client.post("/routes", json={**TRIP, "closures": {"stations": ["大屯路东"]}})
    assert r.status_code == 200
    rides = [f["properties"] for f in r.json()["features"] if f["properties"]["kind"] == "ride"]
    assert rides
    assert all("大屯路东" not in (leg["from_name"], leg["to_name"]) for leg in rides)
    r = client.post("/routes", json={**TRIP, "closures": {"stations": ["奥林匹克公园"]}})
    assert r.status_code == 422
    assert "no open subway station" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"departure": "8h"}, "departure"),
        ({"departure": "24:00"}, "departure"),
        ({"departure": "x" * 9}, "departure"),
        ({"window_min": 181}, "window_min"),
        ({"window_min": 0}, "window_min"),
        ({"metric": "shortest"}, "metric"),
        ({"alternatives": 2}, "alternatives"),
        ({"closures": {"stations": ["</script>${x}'"]}}, "closures.stations"),
        ({"closures": {"streets": ["长安街"]}}, "closures.stations"),
    ],
)
def test_bad_transit_input_names_the_field(client: TestClient, extra: dict[str, object], field: str) -> None:
    """Each bad value gets a 422 naming its field."""
    r = client.post("/routes", json={**TRIP, **extra})
    assert r.status_code == 422
    assert field in r.text


def test_yanqi_lake_is_told_where_the_subway_is(client: TestClient) -> None:
    """A far site off the walk network: the error names the nearest station and how far it is."""
    r = client.post("/routes", json={**TRIP, "origin": "yanqi-lake"})
    assert r.status_code == 422
    assert "俸伯" in r.json()["error"]["message"]


def test_transit_matrix_percentiles(client: TestClient) -> None:
    """p50 <= p90 in every cell; a place off the walk network is a null row with why."""
    body = {
        "origins": ["temple-of-heaven", "olympic-green", "yanqi-lake"],
        "destinations": ["forbidden-city", "olympic-green"],
        "mode": "transit",
    }
    r = client.post("/routes/matrix", json=body)
    assert r.status_code == 200
    doc = r.json()
    assert doc["values"][2] == [None, None]
    assert doc["unresolved"][0]["index"] == 2
    for row50, row90 in zip(doc["values"][:2], doc["values_p90"][:2], strict=True):
        for a, b in zip(row50, row90, strict=True):
            if a is not None:
                assert a <= b
    assert doc["values"][1][1] is None or doc["values"][1][1] < 60  # the same place


def test_transit_isochrone_bands(client: TestClient) -> None:
    """Transit reaches more people than walking alone, and p90 bands lie within p50 bands' population."""
    base = {"origin": "temple-of-heaven", "bands_min": [15, 30, 45]}
    walk = client.post("/isochrones", json={**base, "mode": "walk"}).json()
    p50 = client.post("/isochrones", json={**base, "mode": "transit"}).json()
    p90 = client.post("/isochrones", json={**base, "mode": "transit", "percentile": 90}).json()
    pop = {
        k: [f["properties"]["population"] for f in d["features"]]
        for k, d in (("walk", walk), ("p50", p50), ("p90", p90))
    }
    assert all(t >= w for t, w in zip(pop["p50"], pop["walk"], strict=True))
    assert all(a <= b + 1e-6 for a, b in zip(pop["p90"], pop["p50"], strict=True))
    assert pop["p50"][0] > 5 * pop["walk"][0]  # the 45-minute band: the subway carries far
    assert p50["percentile"] == 50
    assert p90["percentile"] == 90
    assert p50["departure_window"] == "08:00-09:00"
    bad = client.post("/isochrones", json={**base, "mode": "transit", "percentile": 75})
    assert bad.status_code == 422


def test_transit_coverage(client: TestClient) -> None:
    """Coverage by transit counts more people than on foot."""
    body = {"sites": ["temple-of-heaven"], "minutes": 30}
    walk = client.post("/coverage", json={**body, "mode": "walk"}).json()
    transit = client.post("/coverage", json={**body, "mode": "transit"}).json()
    assert transit["mode"] == "transit"
    covered = {k: sum(t["covered"] for t in d["townships"]) for k, d in (("walk", walk), ("transit", transit))}
    assert covered["transit"] > 3 * covered["walk"] > 0


def test_transit_coverage_window_and_percentile(client: TestClient) -> None:
    """Coverage by transit takes the window and percentile the isochrones take; the late window, near the
    service's end at 23:00, and the 90th percentile each reach fewer people; a bad window is a 422."""
    body = {"sites": ["olympic-green"], "minutes": 30, "mode": "transit"}

    def people(**kw: object) -> tuple[float, dict[str, Any]]:
        r = client.post("/coverage", json={**body, **kw})
        assert r.status_code == 200, r.text
        d = r.json()
        return sum(t["covered"] for t in d["townships"]), d

    p50, d50 = people()
    p90, d90 = people(percentile=90)
    late, dlate = people(departure="22:40", window_min=60)
    assert (d50["departure_window"], d50["percentile"]) == ("08:00-09:00", 50)
    assert (d90["percentile"], dlate["departure_window"]) == (90, "22:40-23:40")
    assert any("modelled" in w for w in d50["warnings"])
    assert 0 < p90 < p50
    assert late < p50
    iso = client.post(
        "/isochrones", json={"origin": "olympic-green", "mode": "transit", "bands_min": [30], "percentile": 90}
    ).json()
    assert iso["features"][0]["properties"]["population"] == pytest.approx(p90, rel=1e-6)
    for bad in ({"window_min": 500}, {"departure": "25:00"}, {"percentile": 75}):
        r = client.post("/coverage", json={**body, **bad})
        assert r.status_code == 422, bad
        assert next(iter(bad)) in r.text


def test_lines_endpoint(client: TestClient) -> None:
    """Every line with its stations and the missing ones; line 10's 六里桥 gap is there."""
    r = client.get("/transit/lines")
    assert r.status_code == 200
    doc = LineCollection.model_validate(r.json())
    by_id = {f.properties.id: f.properties for f in doc.features if f.properties}
    assert len(by_id) == 26
    assert {m["code"] for m in by_id["10"].missing} == {"900053"}
    assert by_id["10"].shape == "loop"
    assert by_id["02"].colour == "#006098"
    assert "73" in doc.left_out_codes


def test_transit_bands_with_no_station_near_say_they_are_the_walk_alone(client: TestClient) -> None:
    """The Summer Palace's access point has no station within 20 minutes' walk: its transit bands equal the walking
    ones, and the answer says why; Temple of Heaven's do not get the note."""
    body = {"origin": "summer-palace", "bands_min": [15, 30]}
    transit = client.post("/isochrones", json={**body, "mode": "transit"}).json()
    walk = client.post("/isochrones", json={**body, "mode": "walk"}).json()
    pop = {k: [f["properties"]["population"] for f in d["features"]] for k, d in (("t", transit), ("w", walk))}
    assert pop["t"] == pytest.approx(pop["w"])
    assert any("walk alone" in w for w in transit["warnings"])
    near = client.post("/isochrones", json={"origin": "temple-of-heaven", "bands_min": [15], "mode": "transit"}).json()
    assert not any("walk alone" in w for w in near["warnings"])


def test_a_transit_route_from_no_place_on_earth_is_a_clear_4xx(client: TestClient) -> None:
    """Schemathesis found this 500: coordinates past ±180/±90 reached the nearest-station note."""
    body = {"origin": [5.93e16, 5.84e16], "destination": "forbidden-city", "mode": "transit"}
    r = client.post("/routes", json=body)
    assert r.status_code == 422
    assert "outside Beijing" in r.json()["error"]["message"]
