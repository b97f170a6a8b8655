"""The motorcade API: candidates, schedules for GIS (read back by GDAL), programmes, and bad input."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

DIAOYUTAI = [116.3056, 39.9236]
TRIP = {"origin": "forbidden-city", "destination": "summer-palace", "depart_at": "09:00"}


def test_candidates_with_their_schedules(client: TestClient) -> None:
    r = client.post("/motorcades", json={**TRIP, "hold": {"before_s": 20, "after_s": 5}})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert r.headers["content-type"] == "application/geo+json"
    assert "© OpenStreetMap contributors" in doc["attribution"]
    feats = doc["features"]
    assert len(feats) >= 2
    kinds = [k for f in feats for k in f["properties"]["kinds"]]
    assert kinds.count("fastest") == 1
    assert kinds.count("cheapest") == 1
    rec = doc["recommended"]["candidate"]
    assert feats[rec]["properties"]["recommended"] is True
    assert doc["recommended"]["reason"]
    assert doc["convoy"] == {
        "vehicles": 25, "speed_kph": None, "passage_s": 44.0, "hold_before_s": 20.0, "hold_after_s": 5.0, "hold_s": 69.0
    }  # fmt: skip
    for f in feats:
        p = f["properties"]
        assert f["geometry"]["type"] == "LineString"
        crossings = [e for e in p["schedule"] if e["kind"] == "crossing"]
        assert len(crossings) == p["crossings_held"] > 10
        assert sum(e["person_hours"] for e in crossings) == pytest.approx(
            p["person_hours_lost"], abs=0.01 * len(crossings)
        )
        for e in crossings:
            assert e["hold_s"] == 69.0
            assert e["start"] < e["convoy_arrives"] < e["end"]
        assert p["depart"] == "09:00:00"
        assert sum(t["person_hours"] for t in p["townships"]) == pytest.approx(
            p["person_hours_lost"], rel=0.01, abs=0.01
        )
    fast = next(f["properties"] for f in feats if "fastest" in f["properties"]["kinds"])
    cheap = next(f["properties"] for f in feats if "cheapest" in f["properties"]["kinds"])
    assert cheap["person_hours_lost"] <= fast["person_hours_lost"]
    assert cheap["convoy_time_s"] >= fast["convoy_time_s"]


@pytest.mark.parametrize(("part", "geometry"), [("crossings", "Point"), ("links", "Line String")])
def test_the_schedule_as_a_geopackage_opens_in_gdal(
    client: TestClient, tmp_path: Path, part: str, geometry: str
) -> None:
    r = client.post("/motorcades/schedule", params={"format": "gpkg", "candidate": 0, "part": part}, json=TRIP)
    assert r.status_code == 200, r.text
    path = tmp_path / "schedule.gpkg"
    path.write_bytes(r.content)
    out = subprocess.run(["ogrinfo", "-al", "-so", str(path)], capture_output=True, text=True, check=True).stdout
    assert f"Layer name: motorcade_{part}" in out
    assert f"Geometry: {geometry}" in out
    found = re.search(r"Feature Count: (\d+)", out)
    assert found is not None
    count = int(found.group(1))
    for name in ("start", "end", "streets"):
        assert f"{name}: String" in out
    again = client.post("/motorcades", json=TRIP).json()["features"][0]["properties"]
    want = "crossing" if part == "crossings" else "link"
    assert count == sum(e["kind"] == want for e in again["schedule"]) > 10


def test_a_programme_merges_holds_that_overlap(client: TestClient) -> None:
    convoys = [
        {"origin": "capital-airport", "destination": DIAOYUTAI, "depart_at": "09:00", "choose": "fastest"},
        {"origin": "capital-airport", "destination": DIAOYUTAI, "depart_at": "09:00:15", "choose": "fastest"},
    ]
    r = client.post("/motorcades/programme", json={"convoys": convoys})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["merged_holds"] >= 10
    assert doc["person_hours_lost"] < doc["apart_person_hours"]
    assert [f["properties"]["convoy"] for f in doc["features"]] == [1, 2]
    # Shifting the second convoy an hour later: nothing merges, the cost is the two apart.
    convoys[1]["depart_at"] = "10:00"
    later = client.post("/motorcades/programme", json={"convoys": convoys}).json()
    assert later["merged_holds"] == 0
    assert later["person_hours_lost"] == pytest.approx(later["apart_person_hours"], rel=1e-6)


RING = [[116.38, 39.90], [116.42, 39.90], [116.42, 39.93], [116.38, 39.93], [116.38, 39.90]]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/motorcades", {**TRIP, "arrive_by": "08:30"}, "arrive_by"),
        ("/motorcades", {**TRIP, "hold": {"before_s": 1801}}, "hold.before_s"),
        ("/motorcades", {**TRIP, "hold": {"before_s": 1000, "after_s": 800}}, "a hold lasts"),
        ("/motorcades", {**TRIP, "depart_at": None}, "depart_at"),
        ("/motorcades", {**TRIP, "depart_at": "${jndi}"}, "depart_at"),
        ("/motorcades", {**TRIP, "convoy": {"vehicles": 0}}, "convoy.vehicles"),
        ("/motorcades", {**TRIP, "convoy": {"speed_kph": 500}}, "convoy.speed_kph"),
        ("/motorcades", {**TRIP, "wide_roads_weight": -1}, "wide_roads_weight"),
        ("/motorcades", {**TRIP, "colour": "red"}, "colour"),
        (
            "/motorcades",
            {
                **TRIP,
                "destination": "forbidden-city",
                "origin": "capital-airport",
                "avoid_areas": [{"type": "Polygon", "coordinates": [RING]}],
            },
            "avoid_areas[0]",
        ),
        ("/motorcades/programme", {"convoys": [TRIP] * 11}, "convoys"),
        ("/motorcades/programme", {"convoys": []}, "convoys"),
        ("/motorcades/programme", {"convoys": [{**TRIP, "choose": 40}]}, "choose"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(client: TestClient, path: str, body: dict[str, Any], field: str) -> None:
    r = client.post(path, json=body)
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    assert field in err["message"], err["message"]
    assert err["request_id"]


def test_a_hostile_place_name_is_not_found_and_not_echoed_raw(client: TestClient) -> None:
    r = client.post("/motorcades", json={**TRIP, "origin": "</script><script>alert(1)</script>"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
