"""The route, matrix and itinerary API, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.context import Context
from api.schemas import RouteCollection


def test_post_route_is_geojson(client: TestClient) -> None:
    r = client.post("/routes", json={"origin": "capital-airport", "destination": "forbidden-city", "alternatives": 2})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    doc = r.json()
    assert doc["attribution"].startswith("© OpenStreetMap contributors")
    best = doc["features"][0]
    assert best["geometry"]["type"] == "LineString"
    p = best["properties"]
    assert p["rank"] == 0
    assert 1200 < p["travel_time_s"] < 3600
    assert 20_000 < p["length_m"] < 40_000
    assert any("机场高速" in s["name"] for s in p["streets"])
    assert p["origin"]["site_id"] == "capital-airport"
    lon, lat = best["geometry"]["coordinates"][0]
    assert lon == pytest.approx(p["origin"]["lon"])
    assert lat == pytest.approx(p["origin"]["lat"])
    assert len(doc["features"]) == 2


def test_get_route_with_coordinates_and_closure(client: TestClient) -> None:
    r = client.get(
        "/routes",
        params={
            "origin": "116.3789,39.8652",
            "destination": "forbidden-city",
            "close_street": "前门大街",
            "mode": "drive",
        },
    )
    assert r.status_code == 200
    assert all(s["name"] != "前门大街" for s in r.json()["features"][0]["properties"]["streets"])


def test_matrix(client: TestClient) -> None:
    r = client.post(
        "/routes/matrix",
        json={
            "origins": ["capital-airport", [116.3216, 39.8949]],
            "destinations": ["forbidden-city", {"site": "summer-palace"}],
        },
    )
    body = r.json()
    assert body["unit"] == "s"
    assert len(body["values"]) == 2
    assert all(v is not None and v > 0 for row in body["values"] for v in row)


def test_matrix_with_an_uncovered_place_answers_the_rest(client: TestClient) -> None:
    """Issue 12: one place outside the network (the Grand Canal, walking) nulls its row, not the whole matrix."""
    covered = {
        "origins": ["beijing-west-station", "jingshan"],
        "destinations": ["forbidden-city", "temple-of-heaven"],
        "mode": "walk",
    }
    full = client.post("/routes/matrix", json=covered).json()
    r = client.post(
        "/routes/matrix",
        json={**covered, "origins": ["beijing-west-station", "grand-canal", "jingshan"]},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["values"][1] == [None, None]
    assert body["origins"][1] is None
    assert [body["values"][0], body["values"][2]] == full["values"]  # the rest computed as without it
    assert len(body["unresolved"]) == 1
    miss = body["unresolved"][0]
    assert (miss["side"], miss["index"]) == ("origins", 1)
    assert "grand-canal" in miss["message"]
    assert full["unresolved"] == []
    # Nothing covered at all is still an error; an unknown site still a 404.
    none = client.post(
        "/routes/matrix", json={"origins": ["grand-canal"], "destinations": ["yanqi-lake"], "mode": "walk"}
    )
    assert none.status_code == 422
    assert none.json()["error"]["code"] == "outside_coverage"
    assert client.post("/routes/matrix", json={"origins": ["nowhere"], "destinations": ["jingshan"]}).status_code == 404


def test_itinerary(client: TestClient) -> None:
    stops = ["capital-airport", "olympic-green", "temple-of-heaven", "forbidden-city"]
    r = client.post("/itineraries", json={"stops": stops, "optimize": True})
    body = r.json()
    assert len(body["features"]) == 3
    s = body["summary"]
    assert s["order"][0] == 0
    assert s["order"][-1] == 3
    # given_order_cost comes from the CH matrix (integer 1/1000 s weights): compare to 1e-4.
    assert s["travel_time_s"] <= s["given_order_cost"] * (1 + 1e-4)


RING = {
    "type": "Polygon",
    "coordinates": [
        [[116.40, 39.91], [116.42, 39.91], [116.42, 39.93], [116.40, 39.93], [116.40, 39.91]],
    ],
}


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ({"origin": "atlantis", "destination": "forbidden-city"}, "not_found", "no site 'atlantis'"),
        ({"origin": [121.47, 31.23], "destination": "forbidden-city"}, "outside_coverage", "lies outside Beijing"),
        ({"origin": [39.90, 116.39], "destination": "forbidden-city"}, "invalid_input", "give longitude first"),
        (
            {"origin": [116.664, 39.909], "destination": "forbidden-city", "mode": "walk"},
            "outside_coverage",
            "outside every loaded walk",
        ),
        (
            {"origin": "grand-canal", "destination": "forbidden-city", "mode": "walk"},
            "outside_coverage",
            "site 'grand-canal'",
        ),
        ({"origin": [116.2659, 39.9902], "destination": "forbidden-city"}, "outside_coverage", "from the nearest road"),
        ({"origin": "jingshan", "destination": "jingshan"}, "invalid_input", "are the same place"),
        (
            {
                "origin": "jingshan",
                "destination": "forbidden-city",
                "closures": {"areas": [{"type": "Polygon", "coordinates": [[1, 2]]}]},
            },
            "invalid_geometry",
            "not well-formed GeoJSON",
        ),
        (
            {
                "origin": "jingshan",
                "destination": "forbidden-city",
                "closures": {"areas": [{"type": "Point", "coordinates": [116.4, 39.9]}]},
            },
            "invalid_geometry",
            "must be a Polygon",
        ),
        (
            {"origin": "jingshan", "destination": "forbidden-city", "closures": {"streets": ["前门大衔"]}},
            "invalid_input",
            "Did you mean '前门大街'",
        ),
        ({"origin": "jingshan", "destination": "forbidden-city", "mode": "fly"}, "invalid_request", "mode"),
        ({"origin": "jingshan", "destination": "forbidden-city", "alternatives": 9}, "invalid_request", "alternatives"),
        (
            {"origin": [116.41, 39.92], "destination": "forbidden-city", "closures": {"areas": [RING]}},
            "invalid_input",
            "lies on a road shut by area #1",
        ),
    ],
)
def test_route_errors(client: TestClient, body: dict, code: str, fragment: str) -> None:
    r = client.post("/routes", json=body)
    assert r.status_code in (404, 422), r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    assert fragment in err["message"]


def test_unreachable_because_of_closure_names_it(client: TestClient) -> None:
    ring = {
        "type": "Polygon",
        "coordinates": [
            [[116.3780, 39.9124], [116.4020, 39.9124], [116.4020, 39.9364], [116.3780, 39.9364], [116.3780, 39.9124]],
            [[116.3840, 39.9184], [116.3960, 39.9184], [116.3960, 39.9304], [116.3840, 39.9304], [116.3840, 39.9184]],
        ],
    }
    r = client.post(
        "/routes", json={"origin": "beijing-west-station", "destination": "jingshan", "closures": {"areas": [ring]}}
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "no_route"
    assert "area #1 leaves no fastest route" in err["message"]


def test_too_many_stops_and_cells(client: TestClient) -> None:
    r = client.post("/itineraries", json={"stops": ["jingshan"] * 26})
    assert r.json()["error"]["code"] == "invalid_request"
    r = client.post(
        "/itineraries", json={"stops": ["jingshan", *(["forbidden-city"] * 11), "olympic-green"], "optimize": True}
    )
    assert r.json()["error"]["code"] == "invalid_input"
    assert "at most 10 intermediate stops" in r.json()["error"]["message"]
    r = client.post("/routes/matrix", json={"origins": ["jingshan"] * 201, "destinations": ["forbidden-city"] * 100})
    assert r.json()["error"]["code"] == "invalid_input"
    assert "limit is 20000" in r.json()["error"]["message"]


def test_walk_route_ignores_one_way_rules(client: TestClient) -> None:
    drive = client.post("/routes", json={"origin": "beijing-south-station", "destination": "temple-of-heaven"}).json()
    walk = client.post(
        "/routes", json={"origin": "beijing-south-station", "destination": "temple-of-heaven", "mode": "walk"}
    ).json()
    assert walk["features"][0]["properties"]["mode"] == "walk"
    assert walk["features"][0]["properties"]["length_m"] <= drive["features"][0]["properties"]["length_m"] + 1


def test_route_map_page(client: TestClient) -> None:
    r = client.get(
        "/maps/routes",
        params={
            "origin": "beijing-west-station",
            "destination": "temple-of-heaven",
            "close_street": "前门大街",
            "basemap": "none",
        },
    )
    assert r.status_code == 200
    page = r.text
    assert 'id="route-summary"' in page
    assert "Best route" in page
    assert "Alternative 1" in page
    assert "Closed streets (1)" in page


def test_route_map_page_errors_are_json(client: TestClient) -> None:
    r = client.get("/maps/routes", params={"origin": "yanqi-lake", "destination": "forbidden-city", "mode": "walk"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "outside_coverage"


def test_site_page_draws_access_routes(client: TestClient) -> None:
    page = client.get("/maps/sites/temple-of-heaven", params={"basemap": "none"}).text
    assert "Access routes (drive, fastest)" in page
    assert "From Beijing Capital International Airport" in page
    assert "From Beijing South railway station" in page


def test_access_legs_are_reported_counted_for_walking_and_warned(client: TestClient) -> None:
    # Inside the Summer Palace, far from any road of the 2013 network.
    origin, dest = [116.2600, 39.9950], [116.2700, 39.9850]
    walk = client.post("/routes", json={"origin": origin, "destination": dest, "mode": "walk"}).json()
    p = walk["features"][0]["properties"]
    legs = {leg["end"]: leg for leg in p["access"]}
    assert set(legs) == {"origin", "destination"}
    # Independent: the straight distance from each point to where it meets the road.
    from geo.crs import distance_m

    for end, point in (("origin", origin), ("destination", dest)):
        leg = legs[end]
        road = leg["coordinates"][1] if end == "origin" else leg["coordinates"][0]
        assert leg["distance_m"] == pytest.approx(distance_m(point[0], point[1], road[0], road[1]), abs=1.0)
        assert leg["travel_time_s"] == pytest.approx(leg["distance_m"] / (4.5 / 3.6), rel=1e-3)
    assert legs["origin"]["distance_m"] > 100
    walked = legs["origin"]["distance_m"] + legs["destination"]["distance_m"]
    assert p["length_m"] == pytest.approx(p["network_length_m"] + walked, abs=0.2)
    assert p["travel_time_s"] == pytest.approx(p["network_travel_time_s"] + walked / (4.5 / 3.6), abs=0.5)
    assert any("the origin is" in w and "counted in the totals" in w for w in p["warnings"])
    assert any("walking inside Summer Palace" in w and "networks import" in w for w in p["warnings"])
    # Driving: the legs are reported, not counted.
    drive = client.post("/routes", json={"origin": origin, "destination": dest}).json()["features"][0]["properties"]
    assert drive["length_m"] == drive["network_length_m"]
    assert all(leg["travel_time_s"] is None for leg in drive["access"])
    assert any("not counted" in w for w in drive["warnings"])
    assert not any("walking inside" in w for w in drive["warnings"])


def test_walking_matrix_counts_the_access_legs(client: TestClient) -> None:
    origin, dest = [116.2600, 39.9950], [116.2700, 39.9850]
    m = client.post("/routes/matrix", json={"origins": [origin], "destinations": [dest], "mode": "walk"}).json()
    r = client.post("/routes", json={"origin": origin, "destination": dest, "mode": "walk"}).json()
    assert m["values"][0][0] == pytest.approx(r["features"][0]["properties"]["travel_time_s"], rel=1e-4)


def test_a_street_walk_far_from_parks_has_no_warning(client: TestClient) -> None:
    r = client.get("/routes", params={"origin": "116.4170,39.9142", "destination": "116.4342,39.9075", "mode": "walk"})
    p = r.json()["features"][0]["properties"]
    assert all(leg["distance_m"] < 100 for leg in p["access"])
    assert p["warnings"] == []


def test_itinerary_and_matrix_to_the_far_sites(client: TestClient) -> None:
    """Issue 14: airport → Yanqi Lake → Grand Canal on the regional network, legs named by network."""
    stops = ["capital-airport", "yanqi-lake", "grand-canal"]
    body = client.post("/itineraries", json={"stops": stops}).json()
    assert len(body["features"]) == 2
    for f in body["features"]:
        p = f["properties"]
        assert p["network"] == "beijing-regional"
        legs = p["network_legs"]
        assert any(leg["regional"] and "held-out" in leg["precision"] for leg in legs)
        assert sum(leg["length_m"] for leg in legs) == pytest.approx(p["length_m"], abs=1.0)
        assert any("regional skeleton" in w for w in p["warnings"])
    # The matrix agrees with the itinerary's legs (same engine, same access points).
    m = client.post("/routes/matrix", json={"origins": stops[:2], "destinations": stops[1:]}).json()
    assert m["network"] == "beijing-regional"
    assert m["values"][0][0] == pytest.approx(body["features"][0]["properties"]["travel_time_s"], abs=0.01)
    assert m["values"][1][1] == pytest.approx(body["features"][1]["properties"]["travel_time_s"], abs=0.01)
    assert any("regional skeleton" in w for w in m["warnings"])
    # A central matrix stays on the detailed network, without the warning.
    c = client.post("/routes/matrix", json={"origins": ["jingshan"], "destinations": ["forbidden-city"]}).json()
    assert c["network"] == "central-beijing-2013"
    assert c["warnings"] == []


def test_route_answer_is_valid_geojson_to_seven_decimals(client: TestClient, ctx: Context) -> None:
    """The route's line is built without per-point validation: the answer must still validate, unchanged."""
    r = client.get("/routes", params={"origin": "beijing-west-station", "destination": "temple-of-heaven"})
    assert r.status_code == 200
    body = r.json()
    again = RouteCollection.model_validate(body).model_dump(mode="json", exclude_none=False)
    assert again["features"][0]["geometry"] == body["features"][0]["geometry"]
    coords = np.array(body["features"][0]["geometry"]["coordinates"])
    assert coords.shape[1] == 2
    assert len(coords) > 50
    # Every coordinate is the engine's, rounded to 7 decimals (about 1 cm).
    routes, _, _ = ctx.routing.routes("beijing-west-station", "temple-of-heaven")
    assert np.array_equal(coords, np.round(routes[0].coords, 7))
    assert body["features"][0]["type"] == "Feature"


@pytest.mark.parametrize(
    "params",
    [
        {"origin": "beijing-west-station", "destination": "temple-of-heaven", "alternatives": 3},
        {"origin": "116.3700,39.9000", "destination": "116.4300,39.9300", "mode": "walk", "metric": "shortest"},
        {"origin": "capital-airport", "destination": "yanqi-lake"},  # the regional skeleton: legs and warnings
        {"origin": "jingshan", "destination": "temple-of-heaven", "close_street": ["前门大街"]},
    ],
)
def test_route_answers_are_exactly_the_documented_model(client: TestClient, params: dict) -> None:
    """Route answers are written straight to JSON: each must be what the OpenAPI model describes, member for member."""
    r = client.get("/routes", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    model = RouteCollection.model_validate_json(r.content)
    assert model.model_dump(mode="json") == body  # no member missing, none extra, same values
    assert body["attribution"].startswith("© OpenStreetMap contributors")
    props = [f["properties"] for f in body["features"]]
    assert all(p["streets"] and p["network_legs"] and len(p["access"]) == 2 for p in props)
