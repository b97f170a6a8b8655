"""The base of the record stores (proposals, closure plans, API keys): one `Database` each.

Given a path, a store keeps its records in that SQLite file (the default, nothing to set
up); given a `PostgresDatabase`, in the shared PostgreSQL whose schema `layers.pgschema`
builds. Every write runs in one transaction, so it is saved whole or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from geo.limits import LIMITS, Limits
from layers.database import Connection, Database, SqliteDatabase

__all__ = ["RecordStore"]


class RecordStore:
    """Base of the stores: the SQLite file or shared database, and the limits in force.

    Parameters
    ----------
    where
        The SQLite file (created, with its folder, on first use) or a `Database`.
    limits
        The bounds in force (imports, text lengths).
    """

    SCHEMA = ""  # the SQLite schema: CREATE TABLE IF NOT EXISTS ... statements of the subclass

    def __init__(self, where: Path | Database, *, limits: Limits = LIMITS) -> None:
        self.db: Database = SqliteDatabase(where, self.SCHEMA, self._migrate) if isinstance(where, Path) else where
        self.path = where if isinstance(where, Path) else None
        self.limits = limits

    @property
    def on_postgres(self) -> bool:
        """Whether the records are in PostgreSQL."""
        return self.db.dialect.name == "postgresql"

    def _migrate(self, con: sqlite3.Connection) -> None:
        """Bring an SQLite file written by an older version up to date (nothing by default)."""

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """Open the store for reading."""
        with self.db.read() as con:
            yield con

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """Run statements in one transaction: all of it is saved, or none."""
        with self.db.write() as con:
            yield con

    def _lock_row(self, con: Connection, table: str, key: str) -> Any:  # noqa: ANN401 - a row or None
        """Return a row's id, locked until the transaction ends (on SQLite the write already holds the file)."""
        suffix = " FOR UPDATE" if self.on_postgres else ""
        return con.execute(f"SELECT id FROM {table} WHERE id = ?{suffix}", (key,)).fetchone()
