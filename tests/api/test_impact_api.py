"""The closure-impact API: /impact, /impact/compare, /plans, the map page and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pyogrio
import pytest
from fastapi.testclient import TestClient

from api.cli import main
from api.settings import Settings

CHANGAN = {"name": "Chang'an", "streets": ["东长安街", "西长安街"]}


def test_impact_is_a_geojson_collection_of_townships(client: TestClient) -> None:
    r = client.post("/impact", json={"plan": CHANGAN})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == doc["summary"]["townships_assessed"] > 100
    keys = {"population", "mean_delay_s", "p90_delay_s", "people_cut_off", "entrance_walk_before_s"}
    assert keys <= set(doc["features"][0]["properties"])
    assert doc["summary"]["person_hours_lost"] > 0
    assert "exp(-t_ij / 20 min)" in doc["summary"]["model"]
    assert set(doc["summary"]["person_hours_by_mode"]) == {"car", "bus", "subway", "bike", "walk"}
    assert sum(doc["summary"]["person_hours_by_hour"]) == pytest.approx(doc["summary"]["person_hours_lost"], rel=1e-3)
    assert len(doc["top_pairs"]) == 10
    worst = doc["top_pairs"][0]
    assert worst["after_s"] - worst["before_s"] == pytest.approx(worst["delay_s"], abs=0.2)
    assert len(worst["before"]) > 2
    assert "OpenStreetMap contributors" in doc["attribution"]
    # The townships' person-hours add up to the summary's.
    hours = sum(f["properties"]["person_hours"] for f in doc["features"])
    assert hours == pytest.approx(doc["summary"]["person_hours_lost"], rel=0.01)


def test_impact_geopackage_opens_in_gdal(client: TestClient, tmp_path: Path) -> None:
    r = client.post("/impact?format=gpkg", json={"plan": CHANGAN})
    assert r.status_code == 200
    out = tmp_path / "impact.gpkg"
    out.write_bytes(r.content)
    info = pyogrio.read_info(out)
    assert info["features"] > 100
    assert "mean_delay_s" in list(info["fields"])


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"plan": {"streets": ["长安街"]}}, 422, "invalid_input", "Did you mean"),
        ({"plan": {"entrances": ["nowhere"]}}, 422, "invalid_input", "no subway entrance"),
        ({"plan": {"sites": ["atlantis"]}}, 404, "not_found", "atlantis"),
        (
            {
                "plan": {
                    "areas": [
                        {
                            "type": "Polygon",
                            "coordinates": [[[117.0, 40.6], [117.01, 40.6], [117.0, 40.61], [117.0, 40.6]]],
                        }
                    ]
                }
            },
            422,
            "invalid_input",
            "outside network",
        ),
        ({"plan": {}, "plan_id": "x"}, 422, "invalid_input", "exactly one"),
        ({}, 422, "invalid_input", "exactly one"),
        ({"plan": {"streets": ["东长安街"]}, "extra": 1}, 422, "invalid_request", "extra"),
        ({"plan_id": "nope"}, 404, "not_found", "no plan 'nope'"),
    ],
)
def test_bad_impact_requests(client: TestClient, body: dict[str, object], status: int, code: str, words: str) -> None:
    r = client.post("/impact", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code
    assert words in err["message"]


def test_compare_ranks_plans(client: TestClient) -> None:
    plans = [{"name": "east", "streets": ["东长安街"]}, CHANGAN, {"name": "nothing"}]
    body = client.post("/impact/compare", json={"plans": plans}).json()
    names = [r["name"] for r in body["ranking"]]
    assert names == ["nothing", "east", "Chang'an"]  # closing more never costs less
    assert body["ranking"][0]["person_hours_lost"] == 0
    assert body["ranking"][2]["costs_more_than_best"]
    r = client.post("/impact/compare", json={"plans": [CHANGAN]})
    assert r.status_code == 422
    assert "at least two plans" in r.json()["error"]["message"]
    assert client.post("/impact/compare", json={"plans": []}).status_code == 422


def test_plans_are_saved_versioned_exported_and_imported(client: TestClient, editor_key: str) -> None:
    auth = {"Authorization": f"Bearer {editor_key}"}
    assert client.post("/plans", json={**CHANGAN, "id": "changan-t"}).status_code == 401
    r = client.post("/plans", json={**CHANGAN, "id": "changan-t"}, headers=auth)
    assert r.status_code == 201
    assert r.json()["version"] == 1
    assert r.json()["author"] == "session-editor"
    # A refused plan stores nothing.
    bad = client.post("/plans", json={"id": "bad-t", "streets": ["长安街"]}, headers=auth)
    assert bad.status_code == 422
    assert client.get("/plans/bad-t").status_code == 404
    up = client.put(
        "/plans/changan-t", json={"name": "east only", "streets": ["东长安街"], "base_version": 1}, headers=auth
    )
    assert up.json()["version"] == 2
    stale = client.put("/plans/changan-t", json={"streets": ["西长安街"], "base_version": 1}, headers=auth)
    assert stale.status_code == 412
    assert [v["version"] for v in client.get("/plans/changan-t/versions").json()] == [1, 2]
    assert client.get("/plans/changan-t", params={"version": 1}).json()["plan"]["streets"] == CHANGAN["streets"]
    # The saved plan is evaluated like the same plan given inline.
    saved = client.post("/impact", json={"plan_id": "changan-t"}).json()
    inline = client.post("/impact", json={"plan": {"name": "east only", "streets": ["东长安街"]}}).json()
    assert saved["summary"]["person_hours_lost"] == inline["summary"]["person_hours_lost"]
    # Export, then import under another id; a file with one bad plan stores none.
    doc = client.get("/plans/export").json()
    mine = next(f for f in doc["features"] if f["properties"]["id"] == "changan-t")
    mine["properties"]["id"] = "changan-copy"
    r = client.post("/plans/import", json={"type": "FeatureCollection", "features": [mine]}, headers=auth)
    assert r.status_code == 201
    assert client.get("/plans/changan-copy").json()["plan"]["streets"] == ["东长安街"]
    worse = [
        dict(mine, properties={**mine["properties"], "id": "ok-t"}),
        {"type": "Feature", "geometry": None, "properties": {"id": "bad2-t", "entrances": ["nowhere"]}},
    ]
    r = client.post("/plans/import", json={"type": "FeatureCollection", "features": worse}, headers=auth)
    assert r.status_code == 422
    assert "features[1]" in r.json()["error"]["message"]
    assert client.get("/plans/ok-t").status_code == 404


def test_impact_map_page(client: TestClient) -> None:
    page = client.get("/maps/impact", params={"street": ["前门大街"], "entrance": ["天安门东"], "basemap": "none"}).text
    assert 'id="impact-table"' in page
    assert "Closed roads" in page
    assert "Closed subway entrances" in page
    assert "format=gpkg" in page
    assert "openstreetmap.org/copyright" in page  # the credit
    r = client.get("/maps/impact", params={"street": ["长安街"]})
    assert r.status_code == 422


def test_impact_command_line(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in {"SEEDS_DIR": settings.seeds_dir, "DATA_DIR": tmp_path, "CACHE_DIR": settings.cache_dir}.items():
        monkeypatch.setenv(f"VENUE_PLANNER_{k}", str(v))
    plans = tmp_path / "plans.geojson"
    plans.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": None, "properties": CHANGAN},
                    {"type": "Feature", "geometry": None, "properties": {"name": "none"}},
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert main(["impact", "-q", str(plans)]) == 0
    out = capsys.readouterr().out
    assert out.index("1. none") < out.index("2. Chang'an")
    assert "person-hours" in out
    one = tmp_path / "one.geojson"
    one.write_text(
        json.dumps({"type": "Feature", "geometry": None, "properties": CHANGAN}, ensure_ascii=False), encoding="utf-8"
    )
    gpkg = tmp_path / "out.gpkg"
    assert main(["impact", "-q", str(one), "-o", str(gpkg)]) == 0
    assert pyogrio.read_info(gpkg)["features"] > 100
    assert main(["impact", "-q", str(plans), "-o", str(gpkg)]) == 1
    assert "one plan" in capsys.readouterr().err
    bad = tmp_path / "bad.geojson"
    bad.write_text("not json", encoding="utf-8")
    assert main(["impact", "-q", str(bad)]) == 1


@pytest.mark.parametrize(
    ("props", "geometry", "words"),
    [
        ({"id": "u-t", "streetz": ["东长安街"]}, None, "unknown properties 'streetz'"),
        ({"id": "s-t", "streets": [1]}, None, "streets.0"),
        (
            {"id": "m-t"},
            {
                "type": "MultiPolygon",
                "coordinates": [[[[116.39, 39.90], [116.391, 39.90], [116.391, 39.901], [116.39, 39.90]]]] * 25,
            },
            "at most 20",
        ),
    ],
)
def test_a_bad_plan_file_is_refused_whole(
    client: TestClient, editor_key: str, props: dict[str, object], geometry: object, words: str
) -> None:
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": geometry, "properties": props}]}
    r = client.post("/plans/import", json=doc, headers={"Authorization": f"Bearer {editor_key}"})
    assert r.status_code == 422
    assert words in r.json()["error"]["message"]
    assert client.get(f"/plans/{props['id']}").status_code == 404


def test_hostile_plan_names_stay_text_on_the_impact_page(client: TestClient, editor_key: str) -> None:
    evil = "</script><script>alert(1)</script>${x}`"
    auth = {"Authorization": f"Bearer {editor_key}"}
    assert (
        client.post("/plans", json={"id": "evil-t", "name": evil, "streets": ["前门大街"]}, headers=auth).status_code
        == 201
    )
    page = client.get("/maps/impact", params={"plan_id": "evil-t", "basemap": "none"}).text
    assert "<script>alert(1)" not in page
    assert "${x}" not in page
    assert "&lt;/script&gt;" in page


def test_a_plan_file_with_an_unknown_member_is_refused(client: TestClient, editor_key: str) -> None:
    """The export's own members (name, attribution) are read; anything else is a 422 naming it, nothing stored."""
    auth = {"Authorization": f"Bearer {editor_key}"}
    exported = client.get("/plans/export").json()
    feature = {"type": "Feature", "geometry": None, "properties": {"id": "member-t", "streets": ["前门大街"]}}
    doc = {"type": "FeatureCollection", "features": [feature], "evil": "</script>" * 1000}
    r = client.post("/plans/import", json=doc, headers=auth)
    assert r.status_code == 422
    assert "evil" in r.json()["error"]["message"]
    assert client.get("/plans/member-t").status_code == 404
    # What the export writes goes back in.
    doc = {k: v for k, v in exported.items() if k != "features"} | {"features": [feature]}
    assert client.post("/plans/import", json=doc, headers=auth).status_code == 201


WINDOWED = {
    "name": "Chang'an, morning",
    "window": {"start": "07:30", "end": "09:00"},
    "streets": ["东长安街", {"name": "西长安街", "window": {"start": "08:00", "end": "08:02"}}],
    "areas": [
        {
            "type": "Feature",
            "properties": {"window": {"start": "2026-10-01T22:00", "end": "2026-10-02T01:00"}},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[116.39, 39.90], [116.40, 39.90], [116.40, 39.905], [116.39, 39.905], [116.39, 39.90]]
                ],
            },
        }
    ],
    "entrances": [{"name": "前门", "window": {"start": "08:00", "end": "10:00"}}],
}


def test_windows_are_saved_exported_imported_and_evaluated_alike(client: TestClient, editor_key: str) -> None:
    auth = {"Authorization": f"Bearer {editor_key}"}
    r = client.post("/plans", json={**WINDOWED, "id": "windowed-t"}, headers=auth)
    assert r.status_code == 201, r.text
    body = r.json()["plan"]
    assert body["window"] == {"start": "07:30", "end": "09:00"}
    assert body["streets"][1] == {"name": "西长安街", "window": {"start": "08:00", "end": "08:02"}}
    saved = client.post("/impact", json={"plan_id": "windowed-t"}).json()
    inline = client.post("/impact", json={"plan": WINDOWED}).json()
    assert saved["summary"]["person_hours_lost"] == inline["summary"]["person_hours_lost"] > 0
    assert inline["plan"]["window"] == {"start": "07:30", "end": "09:00"}
    assert {w["kind"] for w in inline["plan"]["own_windows"]} == {"street", "area", "entrance"}
    by_hour = inline["summary"]["person_hours_by_hour"]
    assert by_hour[7] > 0
    assert sum(by_hour[11:21]) == 0  # nothing is closed from 11:00 to 21:00
    # Export and import carry every window (ISO 8601 local times).
    doc = client.get("/plans/export").json()
    mine = next(f for f in doc["features"] if f["properties"]["id"] == "windowed-t")
    assert mine["properties"]["window"] == {"start": "07:30", "end": "09:00"}
    assert mine["properties"]["area_windows"] == [{"start": "2026-10-01T22:00", "end": "2026-10-02T01:00"}]
    mine["properties"]["id"] = "windowed-copy"
    assert (
        client.post("/plans/import", json={"type": "FeatureCollection", "features": [mine]}, headers=auth).status_code
        == 201
    )
    copy = client.post("/impact", json={"plan_id": "windowed-copy"}).json()
    assert copy["summary"]["person_hours_lost"] == saved["summary"]["person_hours_lost"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"window": {"start": "09:00", "end": "07:30"}}, "`window` ends"),
        ({"window": {"start": "2026-10-01T07:00", "end": "2026-10-02T08:00"}}, "at most 24 hours"),
        ({"window": {"start": "half past seven", "end": "09:00"}}, "`window.start`"),
        ({"streets": [{"name": "东长安街", "window": {"start": "08:00", "end": "07:00"}}]}, "`streets[0].window`"),
        ({"window": {"start": "07:00", "end": "08:00", "tz": "x"}}, "tz"),
    ],
)
def test_bad_windows_store_nothing(client: TestClient, editor_key: str, change: dict[str, object], words: str) -> None:
    auth = {"Authorization": f"Bearer {editor_key}"}
    r = client.post("/plans", json={"id": "badwin-t", "streets": ["东长安街"], **change}, headers=auth)
    assert r.status_code == 422
    assert words in r.text
    assert client.get("/plans/badwin-t").status_code == 404


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"modes": {"car": 0.5, "walk": 0.4}}, "sum to 1"),
        ({"modes": {"boat": 1.0}}, "modes.boat"),
        ({"modes": {"car": 1.0}, "mode": "drive"}, "not both"),
        ({"profile": [1.0] * 23}, "profile"),
        ({"profile": [0.0] * 24}, "not all zero"),
        ({"trips_per_person": 0}, "trips_per_person"),
    ],
)
def test_bad_travel_models_are_refused(client: TestClient, body: dict[str, object], words: str) -> None:
    r = client.post("/impact", json={"plan": {"streets": ["东长安街"]}, **body})
    assert r.status_code == 422
    assert words in r.text


def test_get_impact_takes_the_window_and_the_modes(client: TestClient) -> None:
    q = {"street": ["东长安街"], "start": "17:00", "end": "17:02", "modes": "car:0.6,walk:0.4"}
    doc = client.get("/impact", params=q).json()
    assert set(doc["summary"]["person_hours_by_mode"]) == {"car", "walk"}
    assert doc["summary"]["closures_in_force"] == {"start": "17:00", "end": "17:02"}
    assert doc["summary"]["queue_person_hours"] > 0
    assert "car_delay_s" in doc["features"][0]["properties"]
    assert client.get("/impact", params={"street": ["东长安街"], "start": "17:00"}).status_code == 422


def test_the_closure_cost_atlas_is_geojson_and_geopackage(client: TestClient, tmp_path: Path) -> None:
    r = client.get("/impact/closure-cost", params={"hour": 17, "minutes": 2})
    assert r.status_code == 200
    doc = r.json()
    assert len(doc["features"]) > 5000
    p = doc["features"][0]["properties"]
    assert {"street", "flow_veh_h", "saturation_veh_h", "wait_s", "detour_s", "choice", "cost_person_hours"} <= set(p)
    costs = [f["properties"]["cost_person_hours"] for f in doc["features"]]
    assert costs == sorted(costs, reverse=True)
    assert "OpenStreetMap contributors" in doc["attribution"]
    g = client.get("/impact/closure-cost", params={"hour": 3, "minutes": 2, "format": "gpkg"})
    out = tmp_path / "atlas.gpkg"
    out.write_bytes(g.content)
    import pyogrio

    info = pyogrio.read_info(out)
    assert info["features"] > 5000
    for bad in ({"hour": 24}, {"minutes": 0}, {"minutes": "nan"}, {"hour": -1}):
        assert client.get("/impact/closure-cost", params=bad).status_code == 422


def test_the_impact_and_atlas_pages_offer_the_hour_and_the_modes(client: TestClient) -> None:
    page = client.get("/maps/impact", params={"start": "07:30", "end": "09:00", "show": "car", "basemap": "none"}).text
    assert 'id="impact-form"' in page
    assert 'value="07:30"' in page
    assert 'id="impact-hours"' in page
    assert '<option value="car" selected>' in page
    atlas = client.get("/maps/closure-cost", params={"hour": 17, "minutes": 2, "basemap": "none"})
    assert atlas.status_code == 200
    assert 'id="atlas-table"' in atlas.text
    assert '<option value="17" selected>' in atlas.text
    assert "openstreetmap.org/copyright" in atlas.text
    flow = client.get("/maps/closure-cost", params={"hour": 8, "colour": "flow", "basemap": "none"}).text
    assert "Car flow at 08:00" in flow
    assert "cars per hour" in flow
    assert client.get("/maps/closure-cost", params={"colour": "red"}).status_code == 422


def test_a_windowed_plan_ranks_against_the_same_plan_all_day(client: TestClient) -> None:
    body = {
        "plans": [
            {"name": "all day", "streets": ["东长安街", "西长安街"]},
            {"name": "10-11", "streets": ["东长安街", "西长安街"], "window": {"start": "10:00", "end": "11:00"}},
            {"name": "rolling", "streets": ["东长安街", "西长安街"], "window": {"start": "10:00", "end": "10:02"}},
        ]
    }
    ranking = client.post("/impact/compare", json=body).json()["ranking"]
    assert [r["name"] for r in ranking] == ["rolling", "10-11", "all day"]
