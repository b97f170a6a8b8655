"""Closure plans saved like proposals: versioned, with author, exported and imported as GeoJSON.

A plan is stored as its request body (name, streets, areas as GeoJSON, entrances, sites);
every change adds a version and none is ever overwritten. As GeoJSON, a plan is one
Feature: its areas as a MultiPolygon (null when it has none) and the rest in
``properties``. A file of plans is a FeatureCollection of them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import shapely

from geo.errors import InvalidInputError, NotFoundError
from layers.database import Connection
from layers.errors import VersionConflictError
from layers.store import RecordStore

__all__ = ["DERIVED_KEYS", "PlanStore", "SavedPlan", "feature_to_body", "plan_feature"]

_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (id TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plan_versions (
    id TEXT NOT NULL REFERENCES plans(id),
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    author TEXT,
    note TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
"""
_BODY_KEYS = ("name", "window", "streets", "areas", "entrances", "sites", "motorcades", "schedule")
# Kept with a version but derived from the rest when it is saved (the motorcade programme's schedule as
# computed then): read back, never taken from a request or a file.
DERIVED_KEYS = frozenset({"schedule"})
# What a plan Feature's properties may hold (as `plan_feature` writes them). Windows are ISO 8601
# local times: the plan's `window`, a street's or entrance's own (items {name, window}), and each
# area's own in `area_windows` (in the order of the MultiPolygon's parts; null: the plan's).
_FILE_KEYS = frozenset(
    {
        "name",
        "window",
        "streets",
        "entrances",
        "sites",
        "motorcades",
        "schedule",
        "area_windows",
        "id",
        "version",
        "created_at",
        "author",
    }
)
_OPTIONAL = ("motorcades", "schedule")  # written only when the plan has them


@dataclass(frozen=True)
class SavedPlan:
    """One version of a saved plan."""

    id: str
    version: int
    created_at: str
    author: str | None
    note: str | None
    body: dict[str, Any]  # name, streets, areas (GeoJSON), entrances, sites


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def check_plan_id(pid: object) -> str:
    """Return ``pid`` if it is a valid plan id (1-64 lower-case letters, digits, dashes).

    Parameters
    ----------
    pid
        An id to check.
    """
    if not isinstance(pid, str) or not 1 <= len(pid) <= 64 or not set(pid) <= _ID_CHARS:
        raise InvalidInputError(f"a plan id must be 1-64 lower-case letters, digits or dashes; got {pid!r}.")
    return pid


def areas_multipolygon(areas: list[dict[str, Any]]) -> tuple[shapely.MultiPolygon | None, list[Any]]:
    """Return a plan's areas as one MultiPolygon (None without areas) and each part's own window.

    Parameters
    ----------
    areas
        The plan's areas: GeoJSON polygons, or Features whose properties may hold a window.
    """
    parts: list[Any] = []
    windows: list[Any] = []
    for a in areas:
        g = shapely.geometry.shape(a.get("geometry", a) if a.get("type") == "Feature" else a)
        own = (a.get("properties") or {}).get("window") if a.get("type") == "Feature" else None
        got = shapely.get_parts(g).tolist()
        parts.extend(got)
        windows.extend([own] * len(got))
    return (shapely.MultiPolygon(parts) if parts else None), windows


def plan_feature(p: SavedPlan) -> dict[str, Any]:
    """Return a saved plan as a GeoJSON Feature (areas as a MultiPolygon, or null).

    Parameters
    ----------
    p
        A saved plan.
    """
    multi, windows = areas_multipolygon(p.body.get("areas") or [])
    geom = None if multi is None else shapely.geometry.mapping(multi)
    props = {
        k: p.body.get(k, [] if k not in ("name", "window") else ("" if k == "name" else None))
        for k in _BODY_KEYS
        if k != "areas" and (k not in _OPTIONAL or p.body.get(k))
    }
    if any(w is not None for w in windows):
        props["area_windows"] = windows
    props.update({"id": p.id, "version": p.version, "created_at": p.created_at, "author": p.author})
    return {"type": "Feature", "geometry": geom, "properties": props}


def feature_to_body(f: object, where: str) -> tuple[str | None, dict[str, Any]]:
    """Return (id, request body) of a plan Feature read from a file, or raise a clear error.

    Parameters
    ----------
    f
        A GeoJSON Feature read from a file.
    where
        Where the value came from, for error messages.
    """
    if not isinstance(f, dict) or f.get("type") != "Feature" or not isinstance(f.get("properties"), dict):
        raise InvalidInputError(f"{where} is not a GeoJSON Feature with properties.")
    props = f["properties"]
    unknown = sorted(set(props) - _FILE_KEYS)
    if unknown:
        raise InvalidInputError(
            f"{where}: unknown properties {', '.join(map(repr, unknown))}; a plan has {', '.join(sorted(_FILE_KEYS))}."
        )
    geom = f.get("geometry")
    areas: list[dict[str, Any]] = []
    if geom is not None:
        if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise InvalidInputError(f"{where}: the geometry must be a Polygon, a MultiPolygon or null.")
        if geom["type"] == "Polygon":
            areas = [geom]
        else:
            coords = geom.get("coordinates")
            if not isinstance(coords, list):
                raise InvalidInputError(f"{where}: the MultiPolygon has no coordinate list.")
            areas = [{"type": "Polygon", "coordinates": c} for c in coords]
    own = props.get("area_windows")
    if own is not None:
        if not isinstance(own, list) or len(own) != len(areas):
            raise InvalidInputError(
                f"{where}: `area_windows` must list one window (or null) per polygon of the geometry."
            )
        areas = [
            a if w is None else {"type": "Feature", "geometry": a, "properties": {"window": w}}
            for a, w in zip(areas, own, strict=True)
        ]
    body = {
        "name": props.get("name") or "",
        "window": props.get("window"),
        "streets": props.get("streets") or [],
        "areas": areas,
        "entrances": props.get("entrances") or [],
        "sites": props.get("sites") or [],
        "motorcades": props.get("motorcades") or [],  # the file's `schedule` is derived: computed again on import
    }
    pid = props.get("id")
    return (None if pid in (None, "") else check_plan_id(pid)), body


class PlanStore(RecordStore):
    """Closure plans in an SQLite file (created on first use) or the shared PostgreSQL.

    On PostgreSQL each version also keeps its areas as a PostGIS MultiPolygon (for the
    ``plans_current`` view that QGIS opens).

    Parameters
    ----------
    where
        The SQLite file, e.g. ``<data dir>/plans.sqlite``, or a `layers.database.PostgresDatabase`.
    limits
        The bounds in force (imports, text lengths).
    """

    SCHEMA = _SCHEMA

    @staticmethod
    def _body(body: dict[str, Any]) -> str:
        keep = {k: body.get(k) for k in _BODY_KEYS if k not in _OPTIONAL or body.get(k)}
        return json.dumps(keep, ensure_ascii=False, sort_keys=True)

    def _insert_version(
        self,
        con: Connection,
        pid: str,
        version: int,
        *,
        author: str | None,
        note: str,
        body: dict[str, Any],
        created_at: str | None = None,
    ) -> None:
        d = self.db.dialect
        args: list[Any] = [pid, version, created_at or _now(), author, note, self._body(body)]
        if self.on_postgres:
            multi, _ = areas_multipolygon(body.get("areas") or [])
            args.append(None if multi is None else d.encode_geom(multi))
            geom = f", {d.geom_in}"
        else:
            geom = ""
        con.execute(
            f"INSERT INTO plan_versions(id, version, created_at, author, note, body{', geometry' if geom else ''}) "
            f"VALUES (?, ?, ?, ?, ?, {d.json_in}{geom})",
            args,
        )

    def create(
        self, body: dict[str, Any], *, author: str | None, plan_id: str | None = None, note: str | None = None
    ) -> SavedPlan:
        """Save a new plan (version 1); ``body`` must already be validated.

        Parameters
        ----------
        body
            The validated plan (request body form).
        author
            Who made the edit (an API key's name), or None.
        plan_id
            The plan's id.
        note
            A note kept with the new version.
        """
        with self._write() as con:
            pid = self._insert_new(con, body, author=author, plan_id=plan_id, note=note)
        return self.get(pid)

    def _insert_new(
        self,
        con: Connection,
        body: dict[str, Any],
        *,
        author: str | None,
        plan_id: str | None,
        note: str | None,
    ) -> str:
        pid = check_plan_id(plan_id) if plan_id is not None else uuid.uuid4().hex[:12]
        if con.execute("SELECT 1 FROM plans WHERE id = ?", (pid,)).fetchone():
            raise InvalidInputError(f"a plan with id {pid!r} exists; update it or choose another id.")
        now = _now()
        con.execute("INSERT INTO plans(id, created_at) VALUES (?, ?)", (pid, now))
        self._insert_version(con, pid, 1, author=author, note=note or "created", body=body, created_at=now)
        return pid

    def update(
        self,
        plan_id: str,
        body: dict[str, Any],
        *,
        author: str | None,
        base_version: int | None,
        note: str | None = None,
    ) -> SavedPlan:
        """Add a version; with ``base_version``, refuse (409) when someone else changed the plan since.

        Parameters
        ----------
        plan_id
            The plan's id.
        body
            The validated plan (request body form).
        author
            Who made the edit (an API key's name), or None.
        base_version
            The version the edit was based on (None: not checked).
        note
            A note kept with the new version.
        """
        with self._write() as con:
            self._lock_row(con, "plans", check_plan_id(plan_id))
            cur = self._latest(con, plan_id)
            if base_version is not None and base_version != cur.version:
                raise VersionConflictError(
                    f"plan {plan_id!r} is at version {cur.version}, not {base_version} that this edit was based on: "
                    f"someone else changed it. Fetch version {cur.version}, apply your change and send it again.",
                    cur.version,
                )
            self._insert_version(con, plan_id, cur.version + 1, author=author, note=note or "updated", body=body)
        return self.get(plan_id)

    def import_bodies(self, items: list[tuple[str | None, dict[str, Any]]], *, author: str | None) -> list[str]:
        """Save validated plans from a file, all or none; return their ids.

        Parameters
        ----------
        items
            (id or None, validated body) per plan.
        author
            Who made the edit (an API key's name), or None.
        """
        if len(items) > self.limits.max_plan_file_features:
            raise InvalidInputError(
                f"the file holds {len(items)} plans; at most {self.limits.max_plan_file_features}. Split it."
            )
        with self._write() as con:
            return [self._insert_new(con, body, author=author, plan_id=pid, note="imported") for pid, body in items]

    # -- reads ----------------------------------------------------------------------

    @staticmethod
    def _row(r: tuple[Any, ...]) -> SavedPlan:
        body = json.loads(r[5]) if isinstance(r[5], str) else r[5]  # text on SQLite, a dict from jsonb
        return SavedPlan(str(r[0]), int(r[1]), str(r[2]), r[3], r[4], body)

    def _latest(self, con: Connection, pid: str) -> SavedPlan:
        check_plan_id(pid)
        r = con.execute(
            "SELECT id, version, created_at, author, note, body FROM plan_versions WHERE id = ? "
            "ORDER BY version DESC LIMIT 1",
            (pid,),
        ).fetchone()
        if r is None:
            raise NotFoundError(f"no plan {pid!r}; list them with GET /plans.")
        return self._row(r)

    def get(self, plan_id: str, version: int | None = None) -> SavedPlan:
        """Return a plan's latest version (or ``version``).

        Parameters
        ----------
        plan_id
            The plan's id.
        version
            A version number (None: the latest).
        """
        with self._connect() as con:
            if version is None:
                return self._latest(con, plan_id)
            r = con.execute(
                "SELECT id, version, created_at, author, note, body FROM plan_versions WHERE id = ? AND version = ?",
                (check_plan_id(plan_id), version),
            ).fetchone()
            if r is None:
                latest = self._latest(con, plan_id)
                raise NotFoundError(f"plan {plan_id!r} has no version {version}; its versions are 1-{latest.version}.")
            return self._row(r)

    def versions(self, plan_id: str) -> list[SavedPlan]:
        """Return every version of a plan, oldest first.

        Parameters
        ----------
        plan_id
            The plan's id.
        """
        with self._connect() as con:
            self._latest(con, plan_id)
            rows = con.execute(
                "SELECT id, version, created_at, author, note, body FROM plan_versions WHERE id = ? ORDER BY version",
                (plan_id,),
            ).fetchall()
        return [self._row(r) for r in rows]

    def list(self) -> list[SavedPlan]:
        """Return the latest version of every plan, newest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT v.id, v.version, v.created_at, v.author, v.note, v.body FROM plan_versions v "
                "JOIN (SELECT id, MAX(version) AS m FROM plan_versions GROUP BY id) l ON v.id = l.id AND v.version = l.m "
                "ORDER BY v.created_at DESC, v.id"
            ).fetchall()
        return [self._row(r) for r in rows]
