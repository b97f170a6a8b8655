"""The PostgreSQL schema of the shared store, as numbered migrations applied in order.

`migrate` applies the ones a database lacks, each in its own transaction, holding an
advisory lock so that replicas starting together wait for one another instead of racing;
a database whose schema is newer than this code is refused (`SchemaError`), never touched.
Geometries are PostGIS columns in EPSG:4326 with GiST indexes; ``proposals_current`` and
``plans_current`` are the current version of each live proposal and plan, as views that
QGIS and ``ogr2ogr`` open directly (``PG:"dbname=venue" proposals_current``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layers.errors import StoreConfigError

if TYPE_CHECKING:
    from layers.database import PostgresDatabase

__all__ = ["LOCK_ID", "MIGRATIONS", "SchemaError", "migrate", "prepare", "schema_version"]

LOCK_ID = 0x76656E7565  # "venue": the advisory lock the migrations hold

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "proposals, closure plans, API keys and imported networks; the current-version views",
        """
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE proposals (id text PRIMARY KEY, created_at text NOT NULL, deleted_at text);
CREATE TABLE versions (
    proposal_id text NOT NULL REFERENCES proposals(id),
    version integer NOT NULL,
    created_at text NOT NULL,
    name text NOT NULL,
    site_id text,
    geometry geometry(Geometry, 4326) NOT NULL,
    properties jsonb NOT NULL,
    analysis jsonb NOT NULL,
    note text,
    author text,
    PRIMARY KEY (proposal_id, version)
);
CREATE INDEX versions_geometry_gist ON versions USING gist (geometry);
CREATE INDEX versions_site ON versions (site_id);
CREATE TABLE plans (id text PRIMARY KEY, created_at text NOT NULL);
CREATE TABLE plan_versions (
    id text NOT NULL REFERENCES plans(id),
    version integer NOT NULL,
    created_at text NOT NULL,
    author text,
    note text,
    body jsonb NOT NULL,
    geometry geometry(MultiPolygon, 4326),
    PRIMARY KEY (id, version)
);
CREATE INDEX plan_versions_geometry_gist ON plan_versions USING gist (geometry);
CREATE TABLE keys (
    name text PRIMARY KEY,
    role text NOT NULL,
    digest text NOT NULL UNIQUE,
    created_at text NOT NULL,
    revoked_at text
);
CREATE TABLE networks (
    name text PRIMARY KEY,
    meta jsonb NOT NULL,
    files jsonb NOT NULL,
    updated_at text NOT NULL
);
CREATE TABLE network_files (
    sha256 text PRIMARY KEY,
    data bytea NOT NULL
);
CREATE VIEW proposals_current AS
SELECT v.proposal_id AS id, v.version, l.n AS versions, v.name, v.site_id,
       v.properties ->> 'use' AS use, (v.analysis ->> 'area_m2')::double precision AS area_m2,
       v.note, v.author, p.created_at, v.created_at AS updated_at, v.properties::text AS properties,
       v.geometry
FROM versions v
JOIN proposals p ON p.id = v.proposal_id
JOIN (SELECT proposal_id, max(version) AS latest, count(*) AS n FROM versions GROUP BY proposal_id) l
  ON l.proposal_id = v.proposal_id AND l.latest = v.version
WHERE p.deleted_at IS NULL;
CREATE VIEW plans_current AS
SELECT v.id, v.version, v.body ->> 'name' AS name, v.body -> 'window' ->> 'start' AS window_start,
       v.body -> 'window' ->> 'end' AS window_end, (v.body -> 'streets')::text AS streets,
       (v.body -> 'entrances')::text AS entrances, v.author, v.note, p.created_at, v.created_at AS updated_at,
       v.geometry
FROM plan_versions v
JOIN plans p ON p.id = v.id
JOIN (SELECT id, max(version) AS latest FROM plan_versions GROUP BY id) l ON l.id = v.id AND l.latest = v.version;
""",
    ),
)


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this version of the code."""


def schema_version(con: Any) -> int:  # noqa: ANN401 - a psycopg connection
    """Return the highest migration applied to a database (0 for an empty one).

    Parameters
    ----------
    con
        A psycopg connection.
    """
    row = con.execute("SELECT to_regclass('venue_planner_migrations')").fetchone()
    if row is None or row[0] is None:
        return 0
    got = con.execute("SELECT coalesce(max(version), 0) FROM venue_planner_migrations").fetchone()
    return int(got[0])


def migrate(con: Any, *, dry_run: bool = False) -> list[tuple[int, str]]:  # noqa: ANN401 - a psycopg connection
    """Apply the migrations a database lacks, under an advisory lock; return those applied.

    Parameters
    ----------
    con
        A psycopg connection in autocommit mode.
    dry_run
        Only return what would be applied.

    Raises
    ------
    SchemaError
        The database's schema is newer than this code knows.
    """
    newest = MIGRATIONS[-1][0]
    con.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
    try:
        have = schema_version(con)
        if have > newest:
            raise SchemaError(
                f"the database's schema is version {have}, newer than this venue-planner knows ({newest}): "
                "upgrade venue-planner on this host; nothing was changed."
            )
        todo = [(n, what) for n, what, _sql in MIGRATIONS if n > have]
        if dry_run:
            return todo
        for n, what, sql in MIGRATIONS:
            if n <= have:
                continue
            with con.transaction():
                con.execute(
                    "CREATE TABLE IF NOT EXISTS venue_planner_migrations "
                    "(version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                con.execute(sql)
                con.execute("INSERT INTO venue_planner_migrations(version, description) VALUES (%s, %s)", (n, what))
        return todo
    finally:
        con.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))


def prepare(db: PostgresDatabase, *, dry_run: bool = False) -> list[tuple[int, str]]:
    """Connect to the shared database and bring its schema up to date; return the migrations applied.

    Every fault is one line (`StoreConfigError`), and nothing is written when it is raised
    before a migration starts.

    Parameters
    ----------
    db
        The shared database.
    dry_run
        Only return the migrations that would be applied.
    """
    import psycopg

    try:
        con = psycopg.connect(db.url, **db.connect_kwargs())
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or ["no answer"])[-1].strip()
        raise StoreConfigError(f"cannot reach the {db.describe()}: {first}") from None
    with con:
        try:
            return migrate(con, dry_run=dry_run)
        except SchemaError as exc:
            raise StoreConfigError(str(exc)) from None
        except psycopg.Error as exc:
            first = (str(exc).strip().splitlines() or ["?"])[0]
            raise StoreConfigError(f"the {db.describe()} refused the schema migration: {first}") from None
