"""Saved renovation proposals: an SQLite file with every version of every proposal.

Each write is one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) on a database in WAL
mode with ``synchronous=FULL``: a crash or a killed process mid-write leaves the last
committed state, never a half-written proposal. Versions are never rewritten: an update
adds a version, a restore adds a copy of an old one, and a delete marks the proposal
deleted (its history stays, and `ProposalStore.undelete` brings it back).
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import sqlite3
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import geopandas as gpd
import shapely

from geo.errors import InvalidInputError, NotFoundError
from layers.database import Connection, Dialect
from layers.errors import VersionConflictError
from layers.proposal_records import (
    check_id,
    check_properties,
    check_record,
    read_geojson,
    read_gpkg,
)
from layers.store import RecordStore

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["Proposal", "ProposalChanges", "ProposalStore", "check_id", "check_properties"]

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS proposals (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE IF NOT EXISTS versions (
    proposal_id TEXT NOT NULL REFERENCES proposals(id),
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    name TEXT NOT NULL,
    site_id TEXT,
    geometry TEXT NOT NULL,      -- GeoJSON, WGS84
    properties TEXT NOT NULL,    -- JSON: use, floors, height_m, underground, note, ...
    analysis TEXT NOT NULL,      -- JSON: the footprint analysis when saved
    note TEXT,                   -- what changed in this version
    author TEXT,                 -- the API key's name that wrote it (schema 2)
    PRIMARY KEY (proposal_id, version)
);
"""


@dataclass(frozen=True)
class Proposal:
    """One version of a proposal."""

    id: str
    version: int
    versions: int
    name: str
    site_id: str | None
    geometry: shapely.Geometry
    properties: dict[str, Any]
    analysis: dict[str, Any]
    note: str | None
    created_at: str
    updated_at: str
    deleted: bool = False
    author: str | None = None


@dataclass(frozen=True)
class ProposalChanges:
    """What an edit changes; a field left None is carried over from the latest version.

    Attributes
    ----------
    name, geometry, properties, analysis, site_id
        The new values.
    clear_site
        Set the new version's site to none (its footprint left every site).
    """

    name: str | None = None
    geometry: shapely.Geometry | None = None
    properties: dict[str, Any] | None = None
    analysis: Mapping[str, Any] | None = None
    site_id: str | None = None
    clear_site: bool = False


class _Row(NamedTuple):
    """One row of the versions table."""

    pid: str
    version: int
    created_at: str
    name: str
    site_id: str | None
    geometry: shapely.Geometry
    properties: dict[str, Any]
    analysis: Mapping[str, Any]
    note: str | None
    author: str | None


def _columns(d: Dialect) -> str:
    """Return the columns `_row_to_proposal` reads, in the engine's form."""
    return (
        f"v.proposal_id, v.version, l.n, v.name, v.site_id, {d.geom_out.format('v.geometry')}, "
        f"{d.json_out.format('v.properties')}, {d.json_out.format('v.analysis')}, v.note, "
        "v.created_at, p.created_at, p.deleted_at, v.author"
    )


def _json_object(text: str) -> dict[str, Any]:
    """Parse a stored JSON object; anything else (a list, a broken value) reads as empty."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _clean_conflicts(text: object) -> list[dict[str, str]]:
    try:
        items = json.loads(text) if isinstance(text, str) else text  # text on SQLite, a list from jsonb
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [
        {"severity": str(c["severity"]), "message": str(c["message"])}
        for c in items
        if isinstance(c, dict) and isinstance(c.get("severity"), str) and isinstance(c.get("message"), str)
    ]


def _row_to_proposal(r: tuple[Any, ...], d: Dialect) -> Proposal:
    pid, version, n, name, site_id, geometry, properties, analysis, note, v_created, p_created, deleted, author = r
    return Proposal(
        id=str(pid),
        version=int(version),
        versions=int(n),
        name=str(name),
        site_id=site_id,
        geometry=d.decode_geom(geometry),
        properties=_json_object(properties),
        analysis=_json_object(analysis),
        note=note,
        created_at=str(p_created),
        updated_at=str(v_created),
        deleted=deleted is not None,
        author=author,
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class ProposalStore(RecordStore):
    """Proposals in an SQLite file (created on first use) or the shared PostgreSQL.

    Parameters
    ----------
    where
        The SQLite file, e.g. ``<data dir>/proposals.sqlite``, or a `layers.database.PostgresDatabase`.
    limits
        The bounds in force (imports, text lengths).
    """

    SCHEMA = _SCHEMA

    def _migrate(self, con: sqlite3.Connection) -> None:
        cols = {str(r[1]) for r in con.execute("PRAGMA table_info(versions)")}
        if "author" not in cols:  # a schema-1 file: add the column, keep every row
            con.execute("ALTER TABLE versions ADD COLUMN author TEXT")
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    # -- writes ---------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        geometry: shapely.Geometry,
        properties: dict[str, Any],
        analysis: Mapping[str, Any],
        site_id: str | None = None,
        proposal_id: str | None = None,
        note: str | None = None,
        author: str | None = None,
    ) -> Proposal:
        """Save a new proposal (version 1) and return it.

        Parameters
        ----------
        name
            The proposal's name.
        geometry
            A (multi)polygon in WGS84.
        properties
            Its checked attributes (`check_properties`).
        analysis
            Its footprint analysis.
        site_id
            The site it belongs to, or None.
        proposal_id
            An id of the caller's (None: a new random one).
        note
            A note kept with the new version.
        author
            Who made the edit (an API key's name), or None.
        """
        pid = proposal_id or uuid.uuid4().hex[:12]
        check_id(pid)
        self._check_name(name)
        now = _now()
        with self._write() as con:
            if con.execute("SELECT 1 FROM proposals WHERE id = ?", (pid,)).fetchone():
                raise InvalidInputError(f"a proposal with id {pid!r} exists; update it or choose another id.")
            con.execute("INSERT INTO proposals(id, created_at) VALUES (?, ?)", (pid, now))
            self._insert_version(
                con, _Row(pid, 1, now, name, site_id, geometry, properties, analysis, note or "created", author)
            )
        return self.get(pid, 1)

    @staticmethod
    def require_version(cur: Proposal, base_version: int | None) -> None:
        """Raise `VersionConflictError` when ``base_version`` is given and ``cur`` is not that version.

        Parameters
        ----------
        cur
            The latest version.
        base_version
            The version the edit was based on (None: not checked).
        """
        if base_version is not None and base_version != cur.version:
            raise VersionConflictError(
                f"proposal {cur.id!r} is at version {cur.version}, not {base_version} that this edit was based on: "
                f"someone else changed it. Fetch version {cur.version}, apply your change to it and send it again.",
                cur.version,
            )

    def update(
        self,
        proposal_id: str,
        changes: ProposalChanges,
        *,
        note: str | None = None,
        author: str | None = None,
        base_version: int | None = None,
    ) -> Proposal:
        """Add a version with the given changes (the rest carried over) and return it.

        Parameters
        ----------
        proposal_id
            The proposal.
        changes
            What changes (`ProposalChanges`).
        note, author
            The new version's note and author.
        base_version
            The version the edit was based on, when the caller knows it.

        Raises
        ------
        VersionConflictError
            ``base_version`` is given and is not the latest version (checked inside the
            write transaction, so two concurrent edits of one version cannot both win).
        """
        c = changes
        if c.name is not None:
            self._check_name(c.name)
        with self._write() as con:
            self._lock_row(con, "proposals", proposal_id)
            cur = self._latest(con, proposal_id)
            self.require_version(cur, base_version)
            v = cur.version + 1
            self._insert_version(
                con,
                _Row(
                    proposal_id,
                    v,
                    _now(),
                    c.name if c.name is not None else cur.name,
                    None if c.clear_site else (c.site_id if c.site_id is not None else cur.site_id),
                    c.geometry if c.geometry is not None else cur.geometry,
                    c.properties if c.properties is not None else cur.properties,
                    c.analysis if c.analysis is not None else cur.analysis,
                    note or "updated",
                    author,
                ),
            )
        return self.get(proposal_id, v)

    def restore(
        self, proposal_id: str, version: int, *, author: str | None = None, base_version: int | None = None
    ) -> Proposal:
        """Add a version that copies ``version`` (nothing is rewritten) and return it.

        Parameters
        ----------
        proposal_id
            The proposal's id.
        version
            The version to copy.
        author
            Who made the edit (an API key's name), or None.
        base_version
            The version the edit was based on (None: not checked).
        """
        with self._write() as con:
            self._lock_row(con, "proposals", proposal_id)
            cur = self._latest(con, proposal_id)
            self.require_version(cur, base_version)
            old = self._version(con, proposal_id, version)
            self._insert_version(
                con,
                _Row(
                    proposal_id,
                    cur.version + 1,
                    _now(),
                    old.name,
                    old.site_id,
                    old.geometry,
                    old.properties,
                    old.analysis,
                    f"restored version {version}",
                    author,
                ),
            )
        return self.get(proposal_id, cur.version + 1)

    def delete(self, proposal_id: str, *, base_version: int | None = None) -> None:
        """Mark a proposal deleted; its history is kept (see `undelete`).

        Parameters
        ----------
        proposal_id
            The proposal's id.
        base_version
            The version the edit was based on (None: not checked).
        """
        with self._write() as con:
            self._lock_row(con, "proposals", proposal_id)
            cur = self._latest(con, proposal_id)
            self.require_version(cur, base_version)
            con.execute("UPDATE proposals SET deleted_at = ? WHERE id = ?", (_now(), proposal_id))

    def undelete(self, proposal_id: str) -> Proposal:
        """Bring back a deleted proposal.

        Parameters
        ----------
        proposal_id
            The proposal's id.
        """
        with self._write() as con:
            self._latest(con, proposal_id, include_deleted=True)
            con.execute("UPDATE proposals SET deleted_at = NULL WHERE id = ?", (proposal_id,))
        return self.get(proposal_id)

    # -- reads ----------------------------------------------------------------------

    def get(self, proposal_id: str, version: int | None = None) -> Proposal:
        """Return the latest (or a given) version of a proposal.

        Parameters
        ----------
        proposal_id
            The proposal's id.
        version
            A version number (None: the latest).
        """
        with self._connect() as con:
            if version is None:
                return self._latest(con, proposal_id)
            self._latest(con, proposal_id)
            return self._version(con, proposal_id, version)

    def versions(self, proposal_id: str) -> list[Proposal]:
        """Return every version of a proposal, oldest first.

        Parameters
        ----------
        proposal_id
            The proposal's id.
        """
        with self._connect() as con:
            self._latest(con, proposal_id)
            rows = con.execute(
                "SELECT version FROM versions WHERE proposal_id = ? ORDER BY version", (proposal_id,)
            ).fetchall()
            return [self._version(con, proposal_id, int(r[0])) for r in rows]

    def list(
        self, *, site_id: str | None = None, site_ids: Iterable[str] | None = None, include_deleted: bool = False
    ) -> list[Proposal]:
        """Return the latest version of every proposal (of one site, or of several), newest first.

        One query, however many proposals are stored.

        Parameters
        ----------
        site_id
            Only this site's proposals.
        site_ids
            Only these sites' proposals.
        include_deleted
            Deleted proposals too.
        """
        wanted = [site_id] if site_id is not None else (sorted(set(site_ids)) if site_ids is not None else None)
        where = "" if include_deleted else "p.deleted_at IS NULL"
        args: list[Any] = []
        if wanted is not None:
            where += (" AND " if where else "") + f"v.site_id IN ({','.join('?' * len(wanted))})"
            args += wanted
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {_columns(self.db.dialect)} FROM versions v JOIN proposals p ON p.id = v.proposal_id "
                "JOIN (SELECT proposal_id, MAX(version) AS latest, COUNT(*) AS n FROM versions GROUP BY proposal_id) l "
                "ON l.proposal_id = v.proposal_id AND l.latest = v.version "
                + (f"WHERE {where} " if where else "")
                + "ORDER BY p.created_at DESC, p.id",
                args,
            ).fetchall()
        return [_row_to_proposal(r, self.db.dialect) for r in rows]

    def map_features(self, site_ids: Iterable[str]) -> builtins.list[dict[str, Any]]:
        """Return what a site page draws of the live proposals of some sites: one query, no full analyses.

        Each item has ``id``, ``version``, ``versions``, ``name``, ``use``, ``area_m2``,
        ``conflicts`` (severity and message; malformed entries left out) and ``geometry``
        (GeoJSON text).

        Parameters
        ----------
        site_ids
            Site ids.
        """
        wanted = sorted(set(site_ids))
        if not wanted:
            return []
        d = self.db.dialect
        get = d.json_get.format
        with self._connect() as con:
            rows = con.execute(
                f"SELECT v.proposal_id, v.version, l.n, v.name, {get(col='v.properties', key='use')}, "
                f"{get(col='v.analysis', key='area_m2')}, {get(col='v.analysis', key='conflicts')}, "
                f"{d.geom_out.format('v.geometry')} "
                "FROM versions v JOIN proposals p ON p.id = v.proposal_id "
                "JOIN (SELECT proposal_id, MAX(version) AS latest, COUNT(*) AS n FROM versions GROUP BY proposal_id) l "
                "ON l.proposal_id = v.proposal_id AND l.latest = v.version "
                f"WHERE p.deleted_at IS NULL AND v.site_id IN ({','.join('?' * len(wanted))}) "
                "ORDER BY p.created_at DESC, p.id",
                wanted,
            ).fetchall()
        out: builtins.list[dict[str, Any]] = []
        for pid, version, n, name, use, area, conflicts, geometry in rows:
            out.append(
                {
                    "id": str(pid),
                    "version": int(version),
                    "versions": int(n),
                    "name": str(name),
                    "use": use if isinstance(use, str) else None,
                    "area_m2": float(area) if isinstance(area, int | float) else None,
                    "conflicts": _clean_conflicts(conflicts),
                    "geometry": geometry if d.name == "sqlite" else shapely.to_geojson(d.decode_geom(geometry)),
                }
            )
        return out

    def count_by_site(self) -> dict[str, int]:
        """Return how many live proposals each site has (one query)."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT v.site_id, COUNT(*) FROM versions v JOIN proposals p ON p.id = v.proposal_id "
                "JOIN (SELECT proposal_id, MAX(version) AS latest FROM versions GROUP BY proposal_id) l "
                "ON l.proposal_id = v.proposal_id AND l.latest = v.version "
                "WHERE p.deleted_at IS NULL AND v.site_id IS NOT NULL GROUP BY v.site_id"
            ).fetchall()
        return {str(site): int(n) for site, n in rows}

    def check(self) -> str:
        """Return SQLite's integrity check ("ok" when the file is sound); on PostgreSQL, "ok" when it answers."""
        with self._connect() as con:
            if self.on_postgres:
                return "ok" if con.execute("SELECT 1").fetchone()[0] == 1 else "no answer"
            return str(con.execute("PRAGMA integrity_check").fetchone()[0])

    # -- export / import ------------------------------------------------------------

    def iter_versions(self, *, all_versions: bool = True) -> Iterator[Proposal]:
        """Yield every version of every live proposal (or only the latest), newest proposal first.

        One query, read row by row: an export of many proposals never holds them all.

        Parameters
        ----------
        all_versions
            Every version, not only the latest of each.
        """
        latest = "" if all_versions else "AND v.version = l.latest "
        d = self.db.dialect
        rows = self.db.stream(
            f"SELECT {_columns(d)} FROM versions v JOIN proposals p ON p.id = v.proposal_id "
            "JOIN (SELECT proposal_id, MAX(version) AS latest, COUNT(*) AS n FROM versions GROUP BY proposal_id) l "
            "ON l.proposal_id = v.proposal_id WHERE p.deleted_at IS NULL "
            + latest
            + "ORDER BY p.created_at DESC, p.id, v.version"
        )
        for row in rows:
            yield _row_to_proposal(row, d)

    @staticmethod
    def export_record(p: Proposal) -> dict[str, Any]:
        """Return a version as an export row: the columns `import_file` reads back, geometry apart.

        Parameters
        ----------
        p
            A proposal version.
        """
        return {
            "id": p.id,
            "version": p.version,
            "name": p.name,
            "site_id": p.site_id,
            "created_at": p.created_at,
            "version_created_at": p.updated_at,
            "note": p.note,
            "author": p.author,
            "properties": json.dumps(p.properties, ensure_ascii=False, sort_keys=True),
            "analysis": json.dumps(p.analysis, ensure_ascii=False, sort_keys=True),
            "geometry_type": p.geometry.geom_type,
        }

    def frame(self, *, all_versions: bool = False) -> gpd.GeoDataFrame:
        """Return the proposals (or every version) as a GeoDataFrame in WGS84.

        Parameters
        ----------
        all_versions
            Every version, not only the latest of each.
        """
        rows = [
            {**self.export_record(p), "geometry": p.geometry} for p in self.iter_versions(all_versions=all_versions)
        ]
        cols = [
            "id", "version", "name", "site_id", "created_at", "version_created_at", "note", "author", "properties",
            "analysis", "geometry_type", "geometry",
        ]  # fmt: skip
        return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs="EPSG:4326")

    def import_file(self, path: Path, *, label: str | None = None) -> int:
        """Load an export file back (GeoPackage or GeoJSON, recognised by content); see `import_frame`.

        Only those two formats are opened, by content, not by name: a GeoPackage must be an
        SQLite file with the GeoPackage application id and is read by GDAL's GPKG driver
        alone; GeoJSON is parsed here as JSON, without GDAL (so no GDAL virtual format, such
        as a VRT pointing at a server file, is ever opened). Messages name ``label`` (the
        uploaded file's name), never a server path.

        Parameters
        ----------
        path
            The export file.
        label
            How the file is named in errors (None: its name).
        """
        name = label or path.name
        with path.open("rb") as fh:
            head = fh.read(100)
        if head[:16] == b"SQLite format 3\x00" and head[68:72] in (b"GPKG", b"GP10", b"GP11"):
            if path.suffix.lower() == ".gpkg":
                gdf = read_gpkg(path, name, limits=self.limits)
            else:  # GDAL wants the extension: a link named .gpkg, the caller's file untouched
                with tempfile.TemporaryDirectory(prefix="venue-planner-import-") as tmp:
                    link = Path(tmp) / "import.gpkg"
                    link.symlink_to(path.resolve())
                    gdf = read_gpkg(link, name, limits=self.limits)
        elif head.lstrip()[:1] == b"{":
            gdf = read_geojson(path, name, limits=self.limits)
        else:
            raise InvalidInputError(
                f"{name} is neither a GeoPackage nor a GeoJSON file (by its content); "
                "import a file written by `proposals export` or GET /proposals/export."
            )
        return self.import_frame(gdf)

    def import_frame(self, gdf: gpd.GeoDataFrame) -> int:
        """Load every version from an export (`frame(all_versions=True)`) in one transaction.

        Every record is checked as an API write is (id, name, note, attributes, site id,
        timestamps, and the geometry by the footprint rule); versions of a proposal must be
        1, 2, 3, ... Proposals whose id already exists are refused. Any fault refuses the
        whole file: nothing is written.

        Parameters
        ----------
        gdf
            Every version, as `frame(all_versions=True)` returns them.
        """
        need = {
            "id",
            "version",
            "name",
            "site_id",
            "created_at",
            "version_created_at",
            "note",
            "properties",
            "analysis",
        }
        missing = need - set(gdf.columns)
        if missing:
            raise InvalidInputError(f"not a proposals export: missing columns {sorted(missing)}.")
        if "__geometry" not in gdf.columns:
            if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
                gdf = gdf.to_crs(4326)
            docs = [None if g is None else shapely.geometry.mapping(g) for g in gdf.geometry]
        else:
            docs = list(gdf["__geometry"])
        records = [
            check_record(r, doc, n, limits=self.limits)
            for n, (r, doc) in enumerate(
                zip(gdf.drop(columns=["__geometry", "geometry"], errors="ignore").to_dict("records"), docs, strict=True)
            )
        ]
        by_id: dict[str, builtins.list[dict[str, Any]]] = {}
        for r in records:
            by_id.setdefault(r["id"], []).append(r)
        for pid, versions in by_id.items():
            versions.sort(key=lambda r: r["version"])
            got = [r["version"] for r in versions]
            if got != list(range(1, len(got) + 1)):
                raise InvalidInputError(f"proposal {pid!r} has versions {got[:20]}; they must be 1, 2, 3, ... in full.")
        with self._write() as con:
            for pid in sorted(by_id):
                if con.execute("SELECT 1 FROM proposals WHERE id = ?", (pid,)).fetchone():
                    raise InvalidInputError(f"proposal {pid!r} exists already; nothing was imported.")
            for pid in sorted(by_id):
                versions = by_id[pid]
                con.execute("INSERT INTO proposals(id, created_at) VALUES (?, ?)", (pid, versions[0]["created_at"]))
                for r in versions:
                    self._insert_version(
                        con,
                        _Row(
                            pid,
                            r["version"],
                            r["version_created_at"],
                            r["name"],
                            r["site_id"],
                            r["geometry"],
                            r["properties"],
                            r["analysis"],
                            r["note"],
                            r["author"],
                        ),
                    )
        return len(records)

    # -- internals ------------------------------------------------------------------

    @staticmethod
    def _check_name(name: str) -> None:
        if not name.strip() or len(name) > 200:
            raise InvalidInputError("`name` must be 1 to 200 characters.")

    def _insert_version(self, con: Connection, row: _Row) -> None:
        d = self.db.dialect
        con.execute(
            "INSERT INTO versions(proposal_id, version, created_at, name, site_id, geometry, properties, analysis, "
            f"note, author) VALUES (?, ?, ?, ?, ?, {d.geom_in}, {d.json_in}, {d.json_in}, ?, ?)",
            (
                row.pid,
                row.version,
                row.created_at,
                row.name,
                row.site_id,
                d.encode_geom(row.geometry),
                json.dumps(row.properties, ensure_ascii=False, sort_keys=True),
                json.dumps(row.analysis, ensure_ascii=False, sort_keys=True),
                row.note,
                row.author,
            ),
        )

    def _latest(self, con: Connection, pid: str, *, include_deleted: bool = False) -> Proposal:
        row = con.execute("SELECT deleted_at FROM proposals WHERE id = ?", (pid,)).fetchone()
        if row is None or (row[0] is not None and not include_deleted):
            raise NotFoundError(f"no proposal {pid!r}" + (" (it was deleted)." if row is not None else "."))
        v = con.execute("SELECT MAX(version) FROM versions WHERE proposal_id = ?", (pid,)).fetchone()[0]
        return self._version(con, pid, int(v))

    def _version(self, con: Connection, pid: str, version: int) -> Proposal:
        row = con.execute(
            f"SELECT {_columns(self.db.dialect)} FROM versions v JOIN proposals p ON p.id = v.proposal_id "
            "JOIN (SELECT proposal_id, COUNT(*) AS n FROM versions WHERE proposal_id = ? GROUP BY proposal_id) l "
            "ON l.proposal_id = v.proposal_id WHERE v.proposal_id = ? AND v.version = ?",
            (pid, pid, version),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"proposal {pid!r} has no version {version}.")
        return _row_to_proposal(row, self.db.dialect)
