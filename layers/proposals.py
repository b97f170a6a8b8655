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
import re
import sqlite3
import threading
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import shapely

from geo.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["Proposal", "ProposalStore"]

SCHEMA_VERSION = 1
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
    PRIMARY KEY (proposal_id, version)
);
"""
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


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


def _as_type(geom: shapely.Geometry, geom_type: object) -> shapely.Geometry:
    """Undo a GeoPackage's promotion of a Polygon to a one-part MultiPolygon."""
    if geom_type == "Polygon" and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 1:
        return geom.geoms[0]
    return geom


_COLUMNS = (
    "v.proposal_id, v.version, l.n, v.name, v.site_id, v.geometry, v.properties, v.analysis, v.note, "
    "v.created_at, p.created_at, p.deleted_at"
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
        items = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [
        {"severity": str(c["severity"]), "message": str(c["message"])}
        for c in items
        if isinstance(c, dict) and isinstance(c.get("severity"), str) and isinstance(c.get("message"), str)
    ]


def _row_to_proposal(r: tuple[Any, ...]) -> Proposal:
    pid, version, n, name, site_id, geometry, properties, analysis, note, v_created, p_created, deleted = r
    return Proposal(
        id=str(pid),
        version=int(version),
        versions=int(n),
        name=str(name),
        site_id=site_id,
        geometry=shapely.from_geojson(geometry),
        properties=_json_object(properties),
        analysis=_json_object(analysis),
        note=note,
        created_at=str(p_created),
        updated_at=str(v_created),
        deleted=deleted is not None,
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class ProposalStore:
    """Proposals in an SQLite file (created on first use).

    Parameters
    ----------
    path
        The database file, e.g. ``<data dir>/proposals.sqlite``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            if not self._ready:
                con.executescript(_SCHEMA)
                con.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
                self._ready = True
            yield con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run statements in one immediate transaction: all of it is saved, or none."""
        with self._lock, self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- writes ---------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        geometry: shapely.Geometry,
        properties: dict[str, Any],
        analysis: dict[str, Any],
        site_id: str | None = None,
        proposal_id: str | None = None,
        note: str | None = None,
    ) -> Proposal:
        """Save a new proposal (version 1) and return it."""
        pid = proposal_id or uuid.uuid4().hex[:12]
        if not _ID_RE.match(pid):
            raise InvalidInputError(f"`id` {pid!r} must be lower-case letters, digits and dashes (at most 63).")
        self._check_name(name)
        now = _now()
        with self._write() as con:
            if con.execute("SELECT 1 FROM proposals WHERE id = ?", (pid,)).fetchone():
                raise InvalidInputError(f"a proposal with id {pid!r} exists; update it or choose another id.")
            con.execute("INSERT INTO proposals(id, created_at) VALUES (?, ?)", (pid, now))
            self._insert_version(con, pid, 1, now, name, site_id, geometry, properties, analysis, note or "created")
        return self.get(pid)

    def update(
        self,
        proposal_id: str,
        *,
        name: str | None = None,
        geometry: shapely.Geometry | None = None,
        properties: dict[str, Any] | None = None,
        analysis: dict[str, Any] | None = None,
        site_id: str | None = None,
        note: str | None = None,
    ) -> Proposal:
        """Add a version with the given changes (the rest carried over) and return it."""
        if name is not None:
            self._check_name(name)
        with self._write() as con:
            cur = self._latest(con, proposal_id)
            v = cur.version + 1
            self._insert_version(
                con,
                proposal_id,
                v,
                _now(),
                name if name is not None else cur.name,
                site_id if site_id is not None else cur.site_id,
                geometry if geometry is not None else cur.geometry,
                properties if properties is not None else cur.properties,
                analysis if analysis is not None else cur.analysis,
                note or "updated",
            )
        return self.get(proposal_id)

    def restore(self, proposal_id: str, version: int) -> Proposal:
        """Add a version that copies ``version`` (nothing is rewritten) and return it."""
        with self._write() as con:
            cur = self._latest(con, proposal_id)
            old = self._version(con, proposal_id, version)
            self._insert_version(
                con,
                proposal_id,
                cur.version + 1,
                _now(),
                old.name,
                old.site_id,
                old.geometry,
                old.properties,
                old.analysis,
                f"restored version {version}",
            )
        return self.get(proposal_id)

    def delete(self, proposal_id: str) -> None:
        """Mark a proposal deleted; its history is kept (see `undelete`)."""
        with self._write() as con:
            self._latest(con, proposal_id)
            con.execute("UPDATE proposals SET deleted_at = ? WHERE id = ?", (_now(), proposal_id))

    def undelete(self, proposal_id: str) -> Proposal:
        """Bring back a deleted proposal."""
        with self._write() as con:
            self._latest(con, proposal_id, include_deleted=True)
            con.execute("UPDATE proposals SET deleted_at = NULL WHERE id = ?", (proposal_id,))
        return self.get(proposal_id)

    # -- reads ----------------------------------------------------------------------

    def get(self, proposal_id: str, version: int | None = None) -> Proposal:
        """Return the latest (or a given) version of a proposal."""
        with self._connect() as con:
            if version is None:
                return self._latest(con, proposal_id)
            self._latest(con, proposal_id)
            return self._version(con, proposal_id, version)

    def versions(self, proposal_id: str) -> list[Proposal]:
        """Return every version of a proposal, oldest first."""
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
        """
        wanted = [site_id] if site_id is not None else (sorted(set(site_ids)) if site_ids is not None else None)
        where = "" if include_deleted else "p.deleted_at IS NULL"
        args: list[Any] = []
        if wanted is not None:
            where += (" AND " if where else "") + f"v.site_id IN ({','.join('?' * len(wanted))})"
            args += wanted
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {_COLUMNS} FROM versions v JOIN proposals p ON p.id = v.proposal_id "
                "JOIN (SELECT proposal_id, MAX(version) AS latest, COUNT(*) AS n FROM versions GROUP BY proposal_id) l "
                "ON l.proposal_id = v.proposal_id AND l.latest = v.version "
                + (f"WHERE {where} " if where else "")
                + "ORDER BY p.created_at DESC, p.id",
                args,
            ).fetchall()
        return [_row_to_proposal(r) for r in rows]

    def map_features(self, site_ids: Iterable[str]) -> builtins.list[dict[str, Any]]:
        """Return what a site page draws of the live proposals of some sites: one query, no full analyses.

        Each item has ``id``, ``version``, ``versions``, ``name``, ``use``, ``area_m2``,
        ``conflicts`` (severity and message; malformed entries left out) and ``geometry``
        (GeoJSON text).
        """
        wanted = sorted(set(site_ids))
        if not wanted:
            return []
        with self._connect() as con:
            rows = con.execute(
                "SELECT v.proposal_id, v.version, l.n, v.name, json_extract(v.properties, '$.use'), "
                "json_extract(v.analysis, '$.area_m2'), json_extract(v.analysis, '$.conflicts'), v.geometry "
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
                    "geometry": str(geometry),
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
        """Return SQLite's integrity check ("ok" when the file is sound)."""
        with self._connect() as con:
            return str(con.execute("PRAGMA integrity_check").fetchone()[0])

    # -- export / import ------------------------------------------------------------

    def frame(self, *, all_versions: bool = False) -> gpd.GeoDataFrame:
        """Return the proposals (or every version) as a GeoDataFrame in WGS84."""
        rows = []
        items = [v for p in self.list() for v in self.versions(p.id)] if all_versions else self.list()
        for p in items:
            rows.append(
                {
                    "id": p.id,
                    "version": p.version,
                    "name": p.name,
                    "site_id": p.site_id,
                    "created_at": p.created_at,
                    "version_created_at": p.updated_at,
                    "note": p.note,
                    "properties": json.dumps(p.properties, ensure_ascii=False, sort_keys=True),
                    "analysis": json.dumps(p.analysis, ensure_ascii=False, sort_keys=True),
                    "geometry_type": p.geometry.geom_type,
                    "geometry": p.geometry,
                }
            )
        cols = [
            "id", "version", "name", "site_id", "created_at", "version_created_at", "note", "properties", "analysis",
            "geometry_type", "geometry",
        ]  # fmt: skip
        return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs="EPSG:4326")

    def import_file(self, path: Path) -> int:
        """Load an export file (GeoPackage or GeoJSON) back; see `import_frame`."""
        import pyogrio

        try:
            # Timestamps stay exact text (the GeoJSON driver would parse them to milliseconds).
            opts = {"DATE_AS_STRING": "YES"} if path.suffix.lower() in (".geojson", ".json") else {}
            gdf = pyogrio.read_dataframe(path, datetime_as_string=True, **opts)
        except Exception as exc:
            raise InvalidInputError(f"{path.name} could not be read as GeoPackage or GeoJSON: {exc}") from exc
        return self.import_frame(gdf)

    def import_frame(self, gdf: gpd.GeoDataFrame) -> int:
        """Load every version from an export (`frame(all_versions=True)`) in one transaction.

        Proposals whose id already exists are refused (nothing is written).
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
        gdf = gdf.to_crs(4326) if gdf.crs is not None and gdf.crs.to_epsg() != 4326 else gdf
        with self._write() as con:
            for pid in sorted(set(gdf["id"])):
                if con.execute("SELECT 1 FROM proposals WHERE id = ?", (pid,)).fetchone():
                    raise InvalidInputError(f"proposal {pid!r} exists already; nothing was imported.")
            for pid, sub in gdf.sort_values(["id", "version"]).groupby("id"):
                con.execute(
                    "INSERT INTO proposals(id, created_at) VALUES (?, ?)", (pid, str(sub["created_at"].iloc[0]))
                )
                for r in sub.to_dict("records"):
                    self._insert_version(
                        con,
                        str(pid),
                        int(r["version"]),
                        str(r["version_created_at"]),
                        str(r["name"]),
                        None if r["site_id"] in (None, "") or r["site_id"] != r["site_id"] else str(r["site_id"]),
                        _as_type(r["geometry"], r.get("geometry_type")),
                        json.loads(r["properties"]),
                        json.loads(r["analysis"]),
                        None if r["note"] is None or r["note"] != r["note"] else str(r["note"]),
                    )
        return len(gdf)

    # -- internals ------------------------------------------------------------------

    @staticmethod
    def _check_name(name: str) -> None:
        if not name.strip() or len(name) > 200:
            raise InvalidInputError("`name` must be 1 to 200 characters.")

    @staticmethod
    def _insert_version(
        con: sqlite3.Connection,
        pid: str,
        version: int,
        created_at: str,
        name: str,
        site_id: str | None,
        geometry: shapely.Geometry,
        properties: dict[str, Any],
        analysis: dict[str, Any],
        note: str | None,
    ) -> None:
        con.execute(
            "INSERT INTO versions(proposal_id, version, created_at, name, site_id, geometry, properties, analysis, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pid,
                version,
                created_at,
                name,
                site_id,
                shapely.to_geojson(geometry),
                json.dumps(properties, ensure_ascii=False, sort_keys=True),
                json.dumps(analysis, ensure_ascii=False, sort_keys=True),
                note,
            ),
        )

    def _latest(self, con: sqlite3.Connection, pid: str, *, include_deleted: bool = False) -> Proposal:
        row = con.execute("SELECT deleted_at FROM proposals WHERE id = ?", (pid,)).fetchone()
        if row is None or (row[0] is not None and not include_deleted):
            raise NotFoundError(f"no proposal {pid!r}" + (" (it was deleted)." if row is not None else "."))
        v = con.execute("SELECT MAX(version) FROM versions WHERE proposal_id = ?", (pid,)).fetchone()[0]
        return self._version(con, pid, int(v))

    @staticmethod
    def _version(con: sqlite3.Connection, pid: str, version: int) -> Proposal:
        row = con.execute(
            f"SELECT {_COLUMNS} FROM versions v JOIN proposals p ON p.id = v.proposal_id "
            "JOIN (SELECT proposal_id, COUNT(*) AS n FROM versions WHERE proposal_id = ? GROUP BY proposal_id) l "
            "ON l.proposal_id = v.proposal_id WHERE v.proposal_id = ? AND v.version = ?",
            (pid, pid, version),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"proposal {pid!r} has no version {version}.")
        return _row_to_proposal(row)
