"""The stores on both engines (SQLite and a real PostgreSQL/PostGIS), and what only PostgreSQL has.

Every behaviour test runs twice through `store_at`: versions, authors, a stale edit refused,
restore, all-or-none imports. Then, on PostgreSQL: the migrations (concurrent starts, a newer
schema refused), the current-version views read by GDAL's PostgreSQL driver (``ogrinfo``),
the copy of an SQLite store, and imported networks shared between two hosts' stores.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import shapely

from geo.errors import InvalidInputError, NotFoundError
from layers.database import PostgresDatabase, parse_database_url
from layers.dbcopy import copy_to_postgres
from layers.errors import AuthError, StoreConfigError, VersionConflictError
from layers.keys import KeyStore
from layers.networks import NetworkStore
from layers.pgschema import MIGRATIONS, prepare, schema_version
from layers.plans import PlanStore
from layers.proposals import ProposalChanges, ProposalStore
from layers.sharednets import SharedNetworks
from tests.conftest import SEEDS, StoreAt
from tests.layers.test_networks import cut_seed
from tests.pgcluster import Cluster

SQUARE = shapely.box(116.3900, 39.9050, 116.3920, 39.9065)
AREA = {"type": "Polygon", "coordinates": [list(map(list, SQUARE.exterior.coords))]}


def _plan(name: str, **extra: object) -> dict[str, object]:
    return {"name": name, "streets": ["长安街"], "areas": [AREA], "entrances": [], "sites": [], **extra}


def test_plans_keep_every_version_and_refuse_a_stale_edit(store_at: StoreAt) -> None:
    s = PlanStore(store_at("plans"))
    p = s.create(_plan("Parade", window={"start": "07:30", "end": "09:00"}), author="ann", plan_id="parade")
    s.update("parade", _plan("Parade, longer", window={"start": "07:00", "end": "09:30"}), author="bo", base_version=1)
    with pytest.raises(VersionConflictError, match="version 2, not 1"):
        s.update("parade", _plan("lost"), author="cy", base_version=1)
    got = s.versions("parade")
    assert [(v.version, v.author, v.body["name"]) for v in got] == [(1, "ann", "Parade"), (2, "bo", "Parade, longer")]
    assert got[1].body["window"] == {"start": "07:00", "end": "09:30"}
    assert got[0].body["areas"] == [AREA]
    assert s.get("parade", 1).created_at == p.created_at
    with pytest.raises(NotFoundError, match="no version 7"):
        s.get("parade", 7)
    # all or none: the second item's id exists, so the first is not stored either
    with pytest.raises(InvalidInputError, match="exists"):
        s.import_bodies([("fresh", _plan("A")), ("parade", _plan("B"))], author="ann")
    assert [p.id for p in s.list()] == ["parade"]
    assert s.import_bodies([("fresh", _plan("A"))], author="ann") == ["fresh"]
    assert {p.id for p in s.list()} == {"parade", "fresh"}


def test_a_programme_plan_keeps_its_convoys_and_schedule(store_at: StoreAt) -> None:
    s = PlanStore(store_at("plans"))
    convoys = [{"origin": "capital-airport", "destination": [116.3056, 39.9236], "depart_at": "09:00", "choose": 0}]
    sched = {
        "person_hours_lost": 1.25,
        "crossings": [{"lon": 116.4, "lat": 39.9, "start": "09:01:02", "end": "09:01:46"}],
    }
    s.create({**_plan("Arrival"), "motorcades": convoys, "schedule": sched}, author="ann", plan_id="arrival")
    s.create(_plan("Plain"), author="ann", plan_id="plain")
    got = s.get("arrival").body
    assert got["motorcades"] == convoys
    assert got["schedule"] == sched
    assert "motorcades" not in s.get("plain").body  # written only when a plan has them
    assert "schedule" not in s.get("plain").body


def test_keys_add_authorize_and_revoke(store_at: StoreAt) -> None:
    ks = KeyStore(store_at("keys"))
    key = ks.add("ops@city", role="editor")
    assert ks.authorize(f"Bearer {key}", role="editor").name == "ops@city"
    with pytest.raises(InvalidInputError, match="exists"):
        ks.add("ops@city", role="viewer")
    ks.revoke("ops@city")
    with pytest.raises(AuthError, match="not valid"):
        ks.authorize(f"Bearer {key}", role="viewer")
    assert [(k.name, k.revoked_at is not None) for k in ks.list()] == [("ops@city", True)]
    with pytest.raises(NotFoundError):
        ks.revoke("ops@city")


def test_two_concurrent_edits_of_one_version_one_wins(store_at: StoreAt) -> None:
    s = ProposalStore(store_at("proposals"))
    p = s.create(name="Hall", geometry=SQUARE, properties={}, analysis={}, proposal_id="hall")
    barrier = threading.Barrier(2)

    def edit(who: str, base: int) -> str:
        barrier.wait()
        try:
            s.update("hall", ProposalChanges(name=who), author=who, base_version=base)
        except VersionConflictError:
            return "412"
        return "200"

    with ThreadPoolExecutor(2) as pool:
        for base in range(1, 31):
            results = sorted(pool.map(edit, ["a", "b"], [base, base]))
            assert results == ["200", "412"], base
    versions = s.versions(p.id)
    assert [v.version for v in versions] == list(range(1, 32))  # nothing lost, nothing doubled
    assert {v.author for v in versions[1:]} <= {"a", "b"}


# -- PostgreSQL only -----------------------------------------------------------------------


def test_migrations_are_applied_once_by_replicas_starting_together(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    with ThreadPoolExecutor(4) as pool:
        applied = list(pool.map(lambda _: prepare(PostgresDatabase(url)), range(4)))
    assert sorted(len(a) for a in applied) == [0, 0, 0, len(MIGRATIONS)]  # one did the work, the others waited
    with psycopg.connect(url) as con:
        assert schema_version(con) == MIGRATIONS[-1][0]
        con.execute("INSERT INTO venue_planner_migrations(version, description) VALUES (99, 'from the future')")
        con.commit()
        tables = con.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    with pytest.raises(StoreConfigError, match="schema is version 99, newer than this venue-planner knows"):
        prepare(PostgresDatabase(url))
    with psycopg.connect(url) as con:  # nothing was changed
        assert con.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == tables


def test_bad_database_settings_fail_in_one_line(pg_cluster: Cluster) -> None:
    with pytest.raises(ValueError, match=r"must start with postgresql://"):
        parse_database_url("mysql://db/venue")
    with pytest.raises(ValueError, match="does not parse"):
        parse_database_url("postgresql://host:notaport:x/db?sslmode")
    away = PostgresDatabase(f"postgresql://postgres@127.0.0.1:{pg_cluster.port + 1}/x", timeout_s=2)
    with pytest.raises(StoreConfigError) as err:
        prepare(away)
    assert "cannot reach the PostgreSQL database x on 127.0.0.1" in str(err.value)
    assert "\n" not in str(err.value)


def _ogrinfo(url: str, layer: str) -> str:
    conn = url.replace("postgresql://postgres@127.0.0.1:", "PG:host=127.0.0.1 user=postgres port=").replace(
        "/", " dbname="
    )
    out = subprocess.run(["ogrinfo", "-ro", "-al", conn, layer], capture_output=True, text=True, check=True)
    return out.stdout


def test_qgis_and_gdal_open_the_current_version_views(pg_url: str) -> None:
    db = PostgresDatabase(pg_url)
    props = ProposalStore(db)
    props.create(name="Gate hall", geometry=SQUARE, properties={"use": "hall"}, analysis={"area_m2": 3e4}, author="a")
    p = props.create(name="Old", geometry=shapely.box(116.30, 39.90, 116.31, 39.91), properties={}, analysis={})
    props.update(p.id, ProposalChanges(name="Newer", geometry=shapely.box(116.30, 39.90, 116.32, 39.91)))
    gone = props.create(name="Gone", geometry=SQUARE, properties={}, analysis={})
    props.delete(gone.id)
    PlanStore(db).create(_plan("Parade", window={"start": "07:30", "end": "09:00"}), author="ann", plan_id="parade")
    text = _ogrinfo(pg_url, "proposals_current")
    assert "Feature Count: 2" in text
    assert "Geometry: Polygon" in text or "Geometry: Unknown (any)" in text
    assert "name (String) = Gate hall" in text
    assert "name (String) = Newer" in text
    assert "Gone" not in text
    assert "version (Integer) = 2" in text
    assert "use (String) = hall" in text
    assert "area_m2 (Real) = 30000" in text
    assert "POLYGON ((116.32 39.9,116.32 39.91,116.3 39.91,116.3 39.9,116.32 39.9))" in text
    assert 'ID["EPSG",4326]' in text
    plans = _ogrinfo(pg_url, "plans_current")
    assert "Feature Count: 1" in plans
    assert "window_start (String) = 07:30" in plans
    assert "MULTIPOLYGON (((116.392 39.905,116.392 39.9065,116.39 39.9065,116.39 39.905,116.392 39.905)))" in plans


def _sqlite_store(data: Path) -> tuple[str, str]:
    props = ProposalStore(data / "proposals.sqlite")
    p = props.create(name="Hall", geometry=SQUARE, properties={"use": "hall"}, analysis={"area_m2": 1}, author="ann")
    props.update(p.id, ProposalChanges(name="Hall 2"), author="bo")
    gone = props.create(name="Gone", geometry=SQUARE, properties={}, analysis={}, author="cy")
    props.delete(gone.id)
    PlanStore(data / "plans.sqlite").create(_plan("Parade"), author="ann", plan_id="parade")
    key = KeyStore(data / "keys.sqlite").add("ops", role="editor")
    return p.id, key


def test_db_copy_moves_a_sqlite_store_all_or_none(pg_url: str, tmp_path: Path) -> None:
    pid, key = _sqlite_store(tmp_path)
    db = PostgresDatabase(pg_url)
    counts = copy_to_postgres(tmp_path, db)
    assert counts == {"proposals": 2, "versions": 3, "plans": 1, "plan_versions": 1, "keys": 1, "networks": 0}
    props = ProposalStore(db)
    assert [(v.version, v.author, v.name) for v in props.versions(pid)] == [(1, "ann", "Hall"), (2, "bo", "Hall 2")]
    assert len(props.list()) == 1
    assert len(props.list(include_deleted=True)) == 2
    assert props.get(pid).geometry.equals_exact(SQUARE, 0)
    assert KeyStore(db).authorize(f"Bearer {key}", role="editor").name == "ops"  # the key works on every host
    assert PlanStore(db).get("parade").body["areas"] == [AREA]
    before = {t: _count(pg_url, t) for t in ("proposals", "versions", "keys")}
    with pytest.raises(InvalidInputError, match="is in the database already; nothing was copied"):
        copy_to_postgres(tmp_path, db)
    assert {t: _count(pg_url, t) for t in before} == before


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as con:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_a_network_imported_on_one_host_is_used_by_another(pg_url: str, tmp_path: Path) -> None:
    db = PostgresDatabase(pg_url)
    one = NetworkStore(SEEDS, tmp_path / "one", tmp_path / "cache-one", shared=SharedNetworks(db))
    mirror = SharedNetworks(db)
    two = NetworkStore(SEEDS, tmp_path / "two", tmp_path / "cache-two", shared=mirror)
    assert [s.name for s in two.sources() if s.origin == "import"] == []
    nets = one.import_file(cut_seed(tmp_path / "tiananmen.osm"))
    drive = next(n for n in nets if n.mode == "drive")
    mirror.sync(two.imports_dir, force=True)
    assert [s.name for s in two.sources() if s.origin == "import"] == ["tiananmen"]
    theirs = two.get("tiananmen", "drive")  # built from the mirrored file, into its own cache
    assert theirs.graph.number_of_edges() == drive.graph.number_of_edges()
    assert theirs.source.sha256("drive") == drive.source.sha256("drive")
    assert any((tmp_path / "cache-two").iterdir())
    meta = json.loads((tmp_path / "two" / "networks" / "tiananmen.json").read_text())
    assert meta["title"] == "Imported from tiananmen.osm"
    # the host's mirror is only a cache: removed, it comes back from the database
    shutil.rmtree(tmp_path / "two" / "networks")
    assert mirror.sync(two.imports_dir, force=True)
    assert (tmp_path / "two" / "networks" / "tiananmen.osm.bz2").is_file()
