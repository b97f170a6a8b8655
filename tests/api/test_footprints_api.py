"""Footprint and proposal endpoints: answers, versions, downloads, and every bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.conftest import make_key


def sq(x: float, y: float, w: float = 0.002, h: float = 0.0015) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]]}


WANPING = sq(116.2264, 39.8484)
PALACE = sq(116.3900, 39.9160, 0.0015, 0.001)


@pytest.fixture(scope="module")
def fresh(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client with a proposal store of its own (empty at the start of this module)."""
    # Not preloaded: requests build what they need, in the server (no worker would be warm).
    own = settings.model_copy(
        update={"data_dir": tmp_path_factory.mktemp("proposals"), "preload_networks": False, "compute_workers": 0}
    )
    key = make_key(own.data_dir, "editor", "planner-li")
    with TestClient(create_app(own), headers={"authorization": f"Bearer {key}"}) as c:
        yield c


def test_analyze(client: TestClient) -> None:
    r = client.post("/footprints/analyze", json={"footprint": PALACE, "use": "hall", "floors": 1})
    assert r.status_code == 200
    a = r.json()
    assert 12_000 < a["area_m2"] < 16_000
    assert a["sub_site"] == "forbidden-city"
    assert a["conflicts"][0]["severity"] == "high"
    assert any("heritage building" in c["message"] for c in a["conflicts"])
    assert a["elevation"]["available"] is False


def test_a_footprint_in_the_walled_town_of_wanping_is_in_its_site(client: TestClient) -> None:
    # 120 x 80 m on 城内街, inside the town walls (around 116.2225 E, 39.8505 N).
    r = client.post("/footprints/analyze", json={"footprint": sq(116.2218, 39.8501, 0.0014, 0.00072)})
    assert r.status_code == 200
    a = r.json()
    assert 9_000 < a["area_m2"] < 10_500
    assert (a["site"], a["sub_site"]) == ("lugou-wanping", "wanping")
    assert any(z["name"].endswith("(wanping)") for z in a["protection_zones"])
    assert any("Wanping" in c["message"] for c in a["conflicts"])


def test_a_footprint_beside_the_palace_names_no_other_park(client: TestClient) -> None:
    # 30 m east of the palace's east wall: not Zhongshan Park (whose block rings the palace).
    r = client.post("/footprints/analyze", json={"footprint": sq(116.3959, 39.9170, 0.0008, 0.0006)})
    assert r.status_code == 200
    a = r.json()
    assert a["sub_site"] != "zhongshan-park"
    assert not any("zhongshan-park" in z["name"] for z in a["protection_zones"] + a["buffer_zones"])
    assert any(z["name"].endswith("(forbidden-city)") for z in a["buffer_zones"])


def test_compare(client: TestClient) -> None:
    r = client.post(
        "/footprints/compare",
        json={"alternatives": [{"name": "palace", "footprint": PALACE}, {"name": "wanping", "footprint": WANPING}]},
    )
    assert r.status_code == 200
    body = r.json()
    rows = {row["metric"]: row for row in body["table"]}
    assert body["names"] == ["palace", "wanping"]
    assert rows["heritage_overlap_m2"]["best"] == [1]  # Wanping's footprint covers no heritage building
    assert rows["area_m2"]["best"] == [1]


def test_buildable_and_setback(client: TestClient) -> None:
    r = client.post("/footprints/buildable", json={"parcel": sq(116.3890, 39.9150, 0.004, 0.003), "buffer_m": 20})
    assert r.status_code == 200
    body = r.json()
    parts = {f["properties"]["part"]: f["properties"]["area_m2"] for f in body["features"]}
    assert sum(parts.values()) == pytest.approx(body["parcel_m2"], rel=1e-6)
    r = client.post("/footprints/setback", json={"footprint": WANPING, "distance_m": -10})
    assert r.status_code == 200
    props = r.json()["features"][0]["properties"]
    assert props["area_m2"] < props["original_area_m2"]


def test_proposal_lifecycle(fresh: TestClient, tmp_path: Path) -> None:
    r = fresh.post("/proposals", json={"name": "Museum extension", "footprint": WANPING, "use": "museum", "floors": 2})
    assert r.status_code == 201
    p = r.json()
    assert p["site_id"] == "lugou-wanping"  # 92 m from the site: it belongs to it
    pid = p["id"]
    assert p["author"] == "planner-li"
    r = fresh.put(f"/proposals/{pid}", json={"floors": 3, "note": "one more floor", "base_version": 1})
    assert r.json()["version"] == 2
    assert r.json()["properties"]["floors"] == 3
    # A failed update changes nothing.
    bad = fresh.put(f"/proposals/{pid}", json={"footprint": sq(39.85, 116.22)}, headers={"if-match": '"v2"'})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_input"
    versions = fresh.get(f"/proposals/{pid}/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    r = fresh.post(f"/proposals/{pid}/restore", json={"version": 1})
    assert r.json()["version"] == 3
    assert r.json()["properties"]["floors"] == 2
    assert fresh.get(f"/proposals/{pid}", params={"version": 2}).json()["properties"]["floors"] == 3
    assert [x["id"] for x in fresh.get("/proposals", params={"site": "lugou-wanping"}).json()] == [pid]
    export = fresh.get("/proposals/export", params={"format": "gpkg"})
    assert export.status_code == 200
    path = tmp_path / "p.gpkg"
    path.write_bytes(export.content)
    assert len(gpd.read_file(path)) == 3  # every version
    assert fresh.delete(f"/proposals/{pid}").status_code == 204
    gone = fresh.get(f"/proposals/{pid}")
    assert gone.status_code == 404
    assert "deleted" in gone.json()["error"]["message"]
    assert fresh.post(f"/proposals/{pid}/undelete").json()["version"] == 3
    again = fresh.post("/proposals/import", files={"file": ("p.gpkg", path.read_bytes())})
    assert again.status_code == 422  # the ids exist: nothing imported
    assert len(fresh.get(f"/proposals/{pid}/versions").json()) == 3


def _bowtie() -> dict[str, Any]:
    x, y = 116.2264, 39.8484
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + 0.002, y + 0.0015], [x + 0.002, y], [x, y + 0.0015], [x, y]]],
    }


@pytest.mark.parametrize(
    ("footprint", "code", "words"),
    [
        (_bowtie(), "invalid_geometry", "would change its area"),
        ({"type": "Point", "coordinates": [116.4, 39.9]}, "invalid_geometry", "got a Point"),
        ({"type": "Polygon", "coordinates": []}, "invalid_geometry", "empty"),
        (sq(116.20, 39.84, 0.05, 0.05), "invalid_geometry", "at most 5 km²"),
        (sq(39.85, 116.22), "invalid_input", "latitude, longitude"),
        (sq(121.4, 31.2), "invalid_input", "outside Beijing"),
    ],
)
def test_bad_footprints(fresh: TestClient, footprint: dict[str, Any], code: str, words: str) -> None:
    before = fresh.get("/proposals").json()
    for url, body in (
        ("/footprints/analyze", {"footprint": footprint}),
        ("/proposals", {"name": "x", "footprint": footprint}),
    ):
        r = fresh.post(url, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == code
        assert words in r.json()["error"]["message"]
    assert fresh.get("/proposals").json() == before  # nothing saved


def test_unknown_proposal_and_version(fresh: TestClient) -> None:
    assert fresh.get("/proposals/nope").json()["error"]["code"] == "not_found"
    pid = fresh.post("/proposals", json={"name": "A", "footprint": WANPING}).json()["id"]
    r = fresh.get(f"/proposals/{pid}", params={"version": 9})
    assert r.status_code == 404
    assert "no version 9" in r.json()["error"]["message"]


def test_a_moved_proposal_lists_under_its_new_site(fresh: TestClient) -> None:
    town = sq(116.2218, 39.8501, 0.0014, 0.00072)  # inside the walled town of Wanping
    palace = sq(116.3895, 39.9150, 0.0008, 0.0006)  # inside the Forbidden City
    p = fresh.post("/proposals", json={"name": "Peace hall", "footprint": town}).json()
    assert p["site_id"] == "wanping"
    # Listed under its candidate site too (Wanping is a sub-site of Lugou Bridge and Wanping).
    assert p["id"] in {x["id"] for x in fresh.get("/proposals", params={"site": "lugou-wanping"}).json()}
    moved = fresh.put(f"/proposals/{p['id']}", json={"footprint": palace, "base_version": 1}).json()
    assert moved["site_id"] == "forbidden-city"
    assert moved["analysis"]["sub_site"] == "forbidden-city"
    assert p["id"] in {x["id"] for x in fresh.get("/proposals", params={"site": "central-axis"}).json()}
    assert p["id"] not in {x["id"] for x in fresh.get("/proposals", params={"site": "lugou-wanping"}).json()}
    # A change of attributes alone keeps the site.
    again = fresh.put(f"/proposals/{p['id']}", json={"floors": 2, "base_version": 2}).json()
    assert again["site_id"] == "forbidden-city"
    # The earlier version still says where it was.
    assert fresh.get(f"/proposals/{p['id']}", params={"version": 1}).json()["site_id"] == "wanping"


@pytest.mark.parametrize(
    ("attrs", "field"),
    [
        ({"floors": -3}, "floors"),
        ({"floors": 101}, "floors"),
        ({"height_m": -1}, "height_m"),
        ({"height_m": 501}, "height_m"),
    ],
)
def test_attribute_ranges_are_checked(fresh: TestClient, attrs: dict[str, Any], field: str) -> None:
    before = fresh.get("/proposals").json()
    for url in ("/proposals", "/footprints/analyze"):
        r = fresh.post(
            url,
            json={"name": "x", "footprint": WANPING, **attrs}
            if url == "/proposals"
            else {"footprint": WANPING, **attrs},
        )
        assert r.status_code == 422, r.text
        assert field in r.text
    assert fresh.get("/proposals").json() == before
