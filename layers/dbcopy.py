"""Move a host's SQLite store (proposals, plans, keys, imported networks) into the shared PostgreSQL.

Every row is copied as it is: every version of every proposal and plan (deleted
proposals too, with their history), their authors and dates, the keys' digests (a key
keeps working) and each imported network's files and metadata. One transaction: a
record whose id is in the database already refuses the whole copy, and nothing is
written. Afterwards the counts, versions and authors are read back from PostgreSQL and
compared with the SQLite files.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import shapely

from geo.errors import InvalidInputError
from layers.database import PG_DIALECT, Connection, PostgresDatabase
from layers.plans import areas_multipolygon
from layers.sharednets import write_network

__all__ = ["TABLES", "copy_to_postgres"]

# table -> (SQLite file, columns, key columns, the columns compared after the copy)
TABLES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "proposals": ("proposals.sqlite", ("id", "created_at", "deleted_at"), ("id",), ("id", "deleted_at")),
    "versions": (
        "proposals.sqlite",
        (
            "proposal_id",
            "version",
            "created_at",
            "name",
            "site_id",
            "geometry",
            "properties",
            "analysis",
            "note",
            "author",
        ),
        ("proposal_id", "version"),
        ("proposal_id", "version", "author", "created_at"),
    ),
    "plans": ("plans.sqlite", ("id", "created_at"), ("id",), ("id",)),
    "plan_versions": (
        "plans.sqlite",
        ("id", "version", "created_at", "author", "note", "body"),
        ("id", "version"),
        ("id", "version", "author", "created_at"),
    ),
    "keys": ("keys.sqlite", ("name", "role", "digest", "created_at", "revoked_at"), ("name",), ("name", "revoked_at")),
}


def _read(path: Path, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    if not path.is_file():
        return []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is None:
            return []
        cols = [str(r[1]) for r in con.execute(f"PRAGMA table_info({table})")]
        got = ", ".join(c if c in cols else "NULL" for c in columns)  # a schema-1 file has no author
        return con.execute(f"SELECT {got} FROM {table}").fetchall()


def _converters() -> dict[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
    def version_row(r: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*r[:5], shapely.to_wkb(shapely.from_geojson(r[5])), *r[6:])

    def plan_row(r: tuple[Any, ...]) -> tuple[Any, ...]:
        multi, _ = areas_multipolygon(json.loads(r[5]).get("areas") or [])
        return (*r, None if multi is None else shapely.to_wkb(multi))

    return {"versions": version_row, "plan_versions": plan_row}


def _placeholders(table: str, n: int) -> tuple[str, str]:
    d = PG_DIALECT
    if table == "versions":
        return "", f"?, ?, ?, ?, ?, {d.geom_in}, {d.json_in}, {d.json_in}, ?, ?"
    if table == "plan_versions":
        return ", geometry", f"?, ?, ?, ?, ?, {d.json_in}, {d.geom_in}"
    return "", ", ".join("?" * n)


def _network_rows(folder: Path) -> list[tuple[str, dict[str, Any], list[Path]]]:
    out = []
    for meta_path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        name = str(meta["name"])
        if meta.get("format") == "graphml":
            files = sorted(folder.glob(f"{name}.*.graphml"))
        else:
            files = [folder / str(meta["file"])]
        out.append((name, meta, files))
    return out


def _copy_networks(con: Connection, folder: Path) -> int:
    rows = _network_rows(folder)
    for name, meta, files in rows:
        write_network(con, name, meta, files, replace=False)
    return len(rows)


def copy_to_postgres(data_dir: Path, db: PostgresDatabase) -> dict[str, int]:
    """Copy the SQLite store of ``data_dir`` into ``db``, all or none; return the rows copied per table.

    Parameters
    ----------
    data_dir
        The folder holding ``proposals.sqlite``, ``plans.sqlite``, ``keys.sqlite`` and ``networks/``.
    db
        The shared database (its schema up to date).

    Raises
    ------
    InvalidInputError
        A record is in the database already (nothing is copied), or the copy read back differs.
    """
    convert = _converters()
    rows = {t: _read(data_dir / f, t, cols) for t, (f, cols, _k, _c) in TABLES.items()}
    with db.write() as con:
        for table, (_f, cols, keys, _c) in TABLES.items():
            where = " AND ".join(f"{k} = ?" for k in keys)
            idx = [cols.index(k) for k in keys]
            for r in rows[table]:
                if con.execute(f"SELECT 1 FROM {table} WHERE {where}", [r[i] for i in idx]).fetchone():
                    raise InvalidInputError(
                        f"{table} {tuple(r[i] for i in idx)!r} is in the database already; nothing was copied."
                    )
            extra, marks = _placeholders(table, len(cols))
            fix = convert.get(table, lambda r: r)
            for r in rows[table]:
                con.execute(f"INSERT INTO {table}({', '.join(cols)}{extra}) VALUES ({marks})", fix(r))
        networks = _copy_networks(con, data_dir / "networks")
    _verify(data_dir, db, rows)
    return {**{t: len(v) for t, v in rows.items()}, "networks": networks}


def _verify(data_dir: Path, db: PostgresDatabase, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """Read the copied rows back from PostgreSQL and compare their keys, versions, authors and dates."""
    with db.read() as con:
        for table, (_f, cols, keys, compared) in TABLES.items():
            want = {tuple(r[cols.index(c)] for c in compared) for r in rows[table]}
            if not want:
                continue
            key_cols = ", ".join(keys)
            found = {
                tuple(r)
                for r in con.execute(f"SELECT {', '.join(compared)} FROM {table} ORDER BY {key_cols}").fetchall()
            }
            missing = want - found
            if missing:
                raise InvalidInputError(
                    f"the copy of {table} from {data_dir} reads back differently ({len(missing)} rows, e.g. "
                    f"{sorted(missing, key=str)[0]!r}); check the database."
                )
