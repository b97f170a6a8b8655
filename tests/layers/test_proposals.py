"""The proposal store: versions, restore, delete, a writer killed mid-write, lossless export."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import shapely.affinity

from geo.errors import InvalidInputError, NotFoundError
from layers.database import PostgresDatabase
from layers.proposals import ProposalChanges, ProposalStore
from tests.conftest import StoreAt

SQUARE = shapely.Polygon([(116.2264, 39.8484), (116.2284, 39.8484), (116.2284, 39.8499), (116.2264, 39.8499)])


def test_versions_restore_delete(store_at: StoreAt) -> None:
    s = ProposalStore(store_at("proposals"))
    p = s.create(
        name="Museum extension", geometry=SQUARE, properties={"floors": 2}, analysis={"area_m2": 1.0}, site_id="wanping"
    )
    assert (p.version, p.versions) == (1, 1)
    s.update(p.id, ProposalChanges(properties={"floors": 3}), note="one more floor")
    bigger = shapely.affinity.scale(SQUARE, 1.5, 1.5)
    s.update(p.id, ProposalChanges(geometry=bigger, name="Museum extension, larger"))
    assert [v.version for v in s.versions(p.id)] == [1, 2, 3]
    assert s.get(p.id, 1).properties == {"floors": 2}
    assert s.get(p.id, 2).note == "one more floor"
    r = s.restore(p.id, 1)
    assert r.version == 4
    assert r.geometry.equals(SQUARE)
    assert r.properties == {"floors": 2}
    assert r.name == "Museum extension"
    assert len(s.versions(p.id)) == 4  # nothing rewritten
    s.delete(p.id)
    with pytest.raises(NotFoundError, match="deleted"):
        s.get(p.id)
    assert s.list() == []
    back = s.undelete(p.id)
    assert back.version == 4
    assert s.count_by_site() == {"wanping": 1}


def test_failed_writes_change_nothing(store_at: StoreAt) -> None:
    s = ProposalStore(store_at("proposals"))
    p = s.create(name="A", geometry=SQUARE, properties={}, analysis={}, proposal_id="a-1")
    with pytest.raises(InvalidInputError, match="exists"):
        s.create(name="B", geometry=SQUARE, properties={}, analysis={}, proposal_id="a-1")
    with pytest.raises(InvalidInputError, match="`name`"):
        s.update(p.id, ProposalChanges(name=" "))
    with pytest.raises(NotFoundError):
        s.restore(p.id, 7)
    assert [v.version for v in s.versions(p.id)] == [1]
    assert s.get(p.id).name == "A"
    with pytest.raises(InvalidInputError, match="lower-case"):
        s.create(name="C", geometry=SQUARE, properties={}, analysis={}, proposal_id="Bad Id")


WRITER = textwrap.dedent(
    """
    import sys, shapely
    from pathlib import Path
    from layers.database import PostgresDatabase
    from layers.proposals import ProposalStore
    where = sys.argv[1]
    s = ProposalStore(PostgresDatabase(where) if where.startswith("postgresql:") else Path(where))
    p = s.create(name="w", geometry=shapely.box(116.2, 39.8, 116.21, 39.81), properties={"i": 0},
                 analysis={"blob": "x" * 20000}, proposal_id="writer")
    print(1, flush=True)
    for i in range(2, 100000):
        s.update("writer", ProposalChanges(properties={"i": i}, analysis={"blob": str(i) * 5000}))
        print(i, flush=True)
    """
)


@pytest.mark.parametrize(("engine", "delay"), [("sqlite", 0.3), ("sqlite", 0.7), ("sqlite", 1.3), ("postgresql", 0.7)])
def test_history_survives_a_killed_writer(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str, delay: float
) -> None:
    url = request.getfixturevalue("pg_url") if engine == "postgresql" else None
    db: Path | PostgresDatabase = PostgresDatabase(url) if url else tmp_path / "proposals.sqlite"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, url or str(db)], stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the proposal exists
        assert first.strip() == "1"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)  # no clean-up, whatever it was doing
        confirmed = [int(line) for line in proc.stdout.read().split()]
        proc.wait()
    last_confirmed = max([1, *confirmed])
    s = ProposalStore(db)
    assert s.check() == "ok"
    versions = s.versions("writer")
    numbers = [v.version for v in versions]
    assert numbers == list(range(1, len(numbers) + 1))  # no gap, no half-written version
    assert len(numbers) >= last_confirmed  # every committed version is there
    for v in versions:
        assert v.properties == {"i": v.version - 1 if v.version == 1 else v.version}
        assert v.analysis["blob"] == ("x" * 20000 if v.version == 1 else str(v.version) * 5000)
    # The store keeps working after the crash.
    nxt = s.update("writer", ProposalChanges(properties={"i": -1}))
    assert nxt.version == len(numbers) + 1


@pytest.mark.parametrize("fmt", ["gpkg", "geojson"])
def test_export_and_reimport_is_lossless(tmp_path: Path, store_at: StoreAt, fmt: str) -> None:
    s = ProposalStore(tmp_path / "a.sqlite")
    p = s.create(
        name="和平宫 Peace palace", geometry=SQUARE, properties={"use": "hall", "floors": 3, "underground": False},
        analysis={"area_m2": 28487.04, "conflicts": [{"severity": "high", "message": "covers 2 heritage buildings"}]},
        site_id="lugou-wanping", note="first draft",
    )  # fmt: skip
    s.update(
        p.id,
        ProposalChanges(geometry=shapely.MultiPolygon([SQUARE, shapely.affinity.translate(SQUARE, 0.01, 0)])),
        note="two wings",
    )
    s.create(
        name="Parking", geometry=shapely.affinity.translate(SQUARE, 0, 0.01), properties={"use": "parking"}, analysis={}
    )
    out = tmp_path / f"export.{fmt}"
    gdf = s.frame(all_versions=True)
    from layers.registry import export_vector

    export_vector(gdf, out, fmt=fmt, layer="proposals", attribution="test")
    t = ProposalStore(store_at("b"))  # exported from SQLite, imported into each engine
    assert t.import_file(out) == 3
    for a in s.list():
        va, vb = s.versions(a.id), t.versions(a.id)
        assert len(va) == len(vb)
        for x, y in zip(va, vb, strict=True):
            assert (x.version, x.name, x.site_id, x.note, x.created_at, x.updated_at) == (
                y.version, y.name, y.site_id, y.note, y.created_at, y.updated_at,
            )  # fmt: skip
            assert x.properties == y.properties
            assert x.analysis == y.analysis
            assert x.geometry.equals_exact(y.geometry, tolerance=1e-9)
    with pytest.raises(InvalidInputError, match="exists already"):
        t.import_file(out)
    with pytest.raises(InvalidInputError, match="missing columns"):
        t.import_frame(gpd.GeoDataFrame({"id": ["x"]}, geometry=[SQUARE], crs=4326))


def test_an_imported_record_is_held_to_the_configured_limits(store_at: StoreAt) -> None:
    from geo.errors import InvalidGeometryError, InvalidInputError
    from geo.limits import Limits
    from layers.proposals import ProposalStore

    store = ProposalStore(store_at("p"), limits=Limits(max_footprint_vertices=4, max_name_chars=10))
    hexagon = shapely.Point(116.39, 39.91).buffer(0.001, quad_segs=2)  # 9 coordinates
    frame = gpd.GeoDataFrame(
        [
            {
                "id": "hall",
                "version": 1,
                "name": "Hall",
                "properties": "{}",
                "analysis": "{}",
                "note": None,
                "site_id": None,
                "created_at": "2026-12-01T08:00:00+00:00",
                "version_created_at": "2026-12-01T08:00:00+00:00",
            }
        ],
        geometry=[hexagon],
        crs="EPSG:4326",
    )
    with pytest.raises(InvalidGeometryError, match="at most 4"):
        store.import_frame(frame)
    assert store.list() == []
    frame.loc[0, "name"] = "A much longer name"
    frame = frame.set_geometry([shapely.box(116.39, 39.91, 116.391, 39.911)])
    with pytest.raises(InvalidInputError, match="at most 10"):
        store.import_frame(frame)
    assert store.list() == []
