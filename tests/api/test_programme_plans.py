"""Motorcade programmes saved as plans: versioned, 412 on a stale edit, exported and imported with their
schedule's times, evaluated by /impact, and their schedule read back by GDAL."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

CONVOY = {"origin": "forbidden-city", "destination": "summer-palace", "depart_at": "09:00"}
TWO = [CONVOY, {**CONVOY, "depart_at": "09:00:10"}]  # within the 44 s hold: sharing pays


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def saved(client: TestClient, editor_key: str) -> dict[str, Any]:
    """A two-convoy programme saved as plan ``prog-t`` (version 1)."""
    r = client.post(
        "/plans", json={"id": "prog-t", "name": "two delegations", "motorcades": TWO}, headers=_auth(editor_key)
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_the_saved_schedule_is_the_programme_answer(client: TestClient, saved: dict[str, Any]) -> None:
    sched = saved["plan"]["schedule"]
    live = client.post("/motorcades/programme", json={"convoys": TWO}).json()
    assert sched["person_hours_lost"] == live["person_hours_lost"]
    assert sched["apart_person_hours"] == live["apart_person_hours"]
    assert sched["crossings"] == live["schedule"]
    assert [c["depart"] for c in sched["convoys"]] == ["09:00:00", "09:00:10"]
    # Within the hold the two convoys share their crossings: merged, cheaper than apart.
    assert sched["merged_holds"] >= 10
    assert sched["person_hours_lost"] < sched["apart_person_hours"]
    for c, f in zip(sched["convoys"], live["features"], strict=True):
        assert c["route"] == f["geometry"]["coordinates"]
        assert c["arrive"] == f["properties"]["arrive"]


def test_versions_and_a_stale_edit(client: TestClient, editor_key: str, saved: dict[str, Any]) -> None:
    later = [CONVOY, {**CONVOY, "depart_at": "10:00"}]
    up = client.put("/plans/prog-t", json={"motorcades": later, "base_version": 1}, headers=_auth(editor_key))
    assert up.status_code == 200, up.text
    v2 = up.json()["plan"]["schedule"]
    assert up.json()["version"] == 2
    # An hour apart, nothing is merged: the programme costs what the two cost apart.
    assert v2["merged_holds"] == 0
    assert v2["person_hours_lost"] == pytest.approx(v2["apart_person_hours"], abs=1e-3)
    assert v2["convoys"][1]["depart"] == "10:00:00"
    stale = client.put("/plans/prog-t", json={"motorcades": TWO, "base_version": 1}, headers=_auth(editor_key))
    assert stale.status_code == 412
    assert [v["version"] for v in client.get("/plans/prog-t/versions").json()] == [1, 2]
    back = client.get("/plans/prog-t", params={"version": 1}).json()["plan"]
    assert back["schedule"] == saved["plan"]["schedule"]
    assert back["motorcades"][1]["depart_at"] == "09:00:10"


def test_impact_evaluates_a_saved_programme(client: TestClient, editor_key: str, saved: dict[str, Any]) -> None:
    auth = _auth(editor_key)
    assert client.post("/plans", json={"id": "prog-alone-t", "motorcades": TWO}, headers=auth).status_code == 201
    sched = client.get("/plans/prog-alone-t").json()["plan"]["schedule"]
    doc = client.post("/impact", json={"plan_id": "prog-alone-t"}).json()
    s = doc["summary"]
    assert doc["plan"]["motorcades"] == 2
    assert doc["network"] == sched["network"]
    assert s["motorcade_person_hours"] == pytest.approx(sched["person_hours_lost"], abs=1e-3)
    # No closures: the plan costs what its holds cost, and the townships carry it (by the trips' origin).
    assert s["person_hours_lost"] == pytest.approx(sched["person_hours_lost"], abs=0.01)
    towns = sum(f["properties"]["motorcade_person_hours"] for f in doc["features"])
    assert towns == pytest.approx(sched["person_hours_lost"], rel=0.01)
    # With closures too, the plan costs the closures' and the holds' person-hours together.
    streets = {"streets": ["东长安街"]}
    both = client.post("/impact", json={"plan": {**streets, "motorcades": TWO}}).json()["summary"]
    closures = client.post("/impact", json={"plan": streets}).json()["summary"]
    assert both["person_hours_lost"] == pytest.approx(
        closures["person_hours_lost"] + sched["person_hours_lost"], abs=0.02
    )


def test_export_and_import_keep_the_schedule_times(client: TestClient, editor_key: str, saved: dict[str, Any]) -> None:
    doc = client.get("/plans/export").json()
    mine = next(f for f in doc["features"] if f["properties"]["id"] == "prog-t")
    props = mine["properties"]
    assert [c["depart_at"] for c in props["motorcades"]] == ["09:00", "10:00"]
    assert props["schedule"]["crossings"][0]["start"] < props["schedule"]["crossings"][-1]["end"]
    copy_ = copy.deepcopy(mine)
    copy_["properties"]["id"] = "prog-copy-t"
    true_start = props["schedule"]["crossings"][0]["start"]
    copy_["properties"]["schedule"]["crossings"][0]["start"] = "00:00:00"  # derived: computed again, not taken
    r = client.post("/plans/import", json={"type": "FeatureCollection", "features": [copy_]}, headers=_auth(editor_key))
    assert r.status_code == 201, r.text
    got = client.get("/plans/prog-copy-t").json()["plan"]
    assert got["schedule"]["crossings"][0]["start"] == true_start
    assert got["schedule"] == props["schedule"]


@pytest.mark.parametrize(
    ("part", "geometry", "count_key"), [("crossings", "Point", "crossings"), ("routes", "Line String", "convoys")]
)
def test_the_saved_schedule_opens_in_gdal(
    client: TestClient, saved: dict[str, Any], tmp_path: Path, part: str, geometry: str, count_key: str
) -> None:
    r = client.get("/plans/prog-t/schedule", params={"version": 1, "part": part, "format": "gpkg"})
    assert r.status_code == 200, r.text
    path = tmp_path / "schedule.gpkg"
    path.write_bytes(r.content)
    info = subprocess.run(["ogrinfo", "-so", "-al", str(path)], capture_output=True, text=True, check=True).stdout
    assert f"Geometry: {geometry}" in info
    assert f"Feature Count: {len(saved['plan']['schedule'][count_key])}" in info
    assert "start" in info if part == "crossings" else "depart" in info
    geo = client.get("/plans/prog-t/schedule", params={"version": 1, "part": part}).json()
    assert len(geo["features"]) == len(saved["plan"]["schedule"][count_key])


def test_bad_programmes_store_nothing(client: TestClient, editor_key: str) -> None:
    auth = _auth(editor_key)
    late = {**CONVOY, "arrive_by": "08:00"}
    r = client.post("/plans", json={"id": "bad-prog-t", "motorcades": [CONVOY, late]}, headers=auth)
    assert r.status_code == 422
    assert "motorcades[1].arrive_by" in r.json()["error"]["message"]
    assert client.get("/plans/bad-prog-t").status_code == 404
    many = client.post("/plans", json={"id": "bad-prog-t", "motorcades": [CONVOY] * 11}, headers=auth)
    assert many.status_code == 422
    nowhere = {**CONVOY, "destination": "no-such-site"}
    r = client.post("/plans", json={"id": "bad-prog-t", "motorcades": [CONVOY, nowhere]}, headers=auth)
    assert r.status_code in (404, 422)
    assert "motorcades[1]" in r.json()["error"]["message"]
    assert client.get("/plans/bad-prog-t").status_code == 404
    # A plan without a programme has no schedule to download.
    assert client.post("/plans", json={"id": "plain-t", "streets": ["东长安街"]}, headers=auth).status_code == 201
    assert client.get("/plans/plain-t/schedule").status_code == 404
    assert "schedule" not in client.get("/plans/plain-t").json()["plan"]
