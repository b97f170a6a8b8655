"""The venue-planner command line."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest

from api.cli import main
from api.settings import Settings
from layers.proposals import ProposalChanges


@pytest.fixture
def env(fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("VENUE_PLANNER_SEEDS_DIR", str(fresh_settings.seeds_dir))
    monkeypatch.setenv("VENUE_PLANNER_DATA_DIR", str(fresh_settings.data_dir))
    monkeypatch.setenv("VENUE_PLANNER_CACHE_DIR", str(fresh_settings.cache_dir))
    return fresh_settings


def test_layers_list(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layers", "list"]) == 0
    out = capsys.readouterr().out
    assert "subway-stations" in out
    assert "EPSG:4326" in out


@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_layers_export_reads_back_equal(env: Settings, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"stations.{fmt}"
    assert main(["layers", "export", "subway-stations", "--format", fmt, "-o", str(out)]) == 0
    back = gpd.read_file(out)
    orig = gpd.read_file(env.seeds_dir / "subway_stations.geojson")
    assert back.crs.to_epsg() == 4326
    assert list(back["name"]) == list(orig["name"])
    assert list(back["lines"]) == list(orig["lines"])
    assert back.geometry.geom_equals_exact(orig.geometry, tolerance=1e-7).all()
    if fmt == "geojson":
        doc = json.loads(out.read_text(encoding="utf-8"))
        lon, lat = doc["features"][0]["geometry"]["coordinates"]
        assert 115 < lon < 118
        assert 39 < lat < 41
        assert "OpenStreetMap" in doc["attribution"]


def test_layers_export_polygons_read_back_equal(env: Settings, tmp_path: Path) -> None:
    out = tmp_path / "sites.gpkg"
    assert main(["layers", "export", "sites", "--format", "gpkg", "-o", str(out)]) == 0
    back = gpd.read_file(out)
    orig = gpd.read_file(env.seeds_dir / "sites.geojson")
    assert back.geometry.geom_equals_exact(orig.geometry, tolerance=1e-9).all()
    assert list(back["boundary_source"]) == list(orig["boundary_source"])


def test_networks_info_lists_uncovered_sites(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["networks", "info", "--mode", "drive", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sites_not_covered"] == []  # the far sites are on the regional network
    seed, regional = doc["networks"][0], doc["networks"][1]
    assert seed["name"] == "central-beijing-2013"
    assert "forbidden-city" in seed["sites_covered"]
    assert regional["name"] == "beijing-regional"
    # The far sites, and Fragrant Hills by car: its centre lies just beyond the 2013 drive
    # network's outline (walking, the 2013 walk network covers it).
    assert regional["sites_covered"] == [
        "daxing-airport",
        "fragrant-hills",
        "grand-canal",
        "yanqi-lake",
        "yanqing-expo",
    ]
    assert main(["networks", "info", "--mode", "walk", "--json"]) == 0
    walk = json.loads(capsys.readouterr().out)
    assert [n["name"] for n in walk["networks"]] == ["central-beijing-2013"]  # the skeleton is drive only
    assert walk["sites_not_covered"] == []  # a site counts as covered by either mode


def test_networks_import_broken_file_exits_1(env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x01 not a pbf")
    assert main(["networks", "import", str(bad)]) == 1
    assert "could not be read as OpenStreetMap data" in capsys.readouterr().err
    assert not (env.data_dir / "networks").exists() or not any((env.data_dir / "networks").iterdir())


def test_unknown_site_for_fetch(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["networks", "fetch", "--site", "atlantis"]) == 1
    assert "no site 'atlantis'" in capsys.readouterr().err


def test_proposals_export_import_round_trip(env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from layers.proposals import ProposalStore
    from tests.api.test_footprints_api import WANPING

    store = ProposalStore(env.data_dir / "proposals.sqlite")
    import shapely

    p = store.create(
        name="CLI test", geometry=shapely.geometry.shape(WANPING), properties={"use": "hall"}, analysis={"area_m2": 1.0}
    )
    store.update(p.id, ProposalChanges(properties={"use": "museum"}))
    out = tmp_path / "backup.gpkg"
    assert main(["proposals", "export", "-o", str(out)]) == 0
    assert "2 versions of 1 proposals" in capsys.readouterr().out
    assert main(["proposals", "list"]) == 0
    assert "CLI test" in capsys.readouterr().out
    # Importing into the same store refuses (the id exists) and changes nothing.
    assert main(["proposals", "import", str(out)]) == 1
    assert "exists already" in capsys.readouterr().err
    assert len(store.versions(p.id)) == 2


def test_coverage_surface(env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import rasterio

    out = tmp_path / "s.tif"
    assert main(["coverage", "surface", "--site", "temple-of-heaven", "--site", "summer-palace", "-o", str(out)]) == 0
    assert "minutes to the nearest" in capsys.readouterr().out
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32650
        assert src.nodata == -9999.0
    assert main(["coverage", "surface", "--site", "yanqi-lake", "--mode", "walk", "-o", str(out)]) == 1
    assert "outside every loaded walk road network" in capsys.readouterr().err


def test_warm_builds_the_caches_a_start_needs(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """`venue-planner warm` (the image build's step) loads every network and mode and leaves the caches on disk."""
    assert main(["warm"]) == 0
    out = capsys.readouterr().out
    for line in ("central-beijing-2013 (drive)", "central-beijing-2013 (walk)", "beijing-regional (drive)"):
        assert line in out
    assert "caches ready in" in out
    cached = {p.suffix for p in env.cache_dir.rglob("*") if p.is_file()}
    assert cached, "no cache file written"


def test_a_bad_setting_is_named_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import main

    monkeypatch.setenv("VENUE_PLANNER_MAX_STOPS", "999")
    assert main(["layers", "list"]) == 2
    err = capsys.readouterr().err
    assert "VENUE_PLANNER_MAX_STOPS" in err
    assert "less than or equal to 25" in err
    assert "Traceback" not in err


def test_motorcade_prints_candidates_and_writes_the_schedule(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schedule.gpkg"
    args = ["motorcade", "forbidden-city", "116.3056,39.9236", "--depart", "17:30", "--hold-before", "15", "-q"]
    assert main([*args, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fastest" in text
    assert "recommended: " in text
    back = gpd.read_file(out)
    assert len(back) > 10
    assert (back["hold_s"] == 15 + 44).all()
    assert back.crs.to_epsg() == 4326
    assert (back["start"] < back["end"]).all()
    assert main(["motorcade", "forbidden-city", "summer-palace", "--depart", "9:00", "-q"]) == 1
    assert "depart" in capsys.readouterr().err
