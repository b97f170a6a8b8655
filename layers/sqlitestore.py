"""An SQLite file that stores one kind of record: opened the same way by every store of the planner.

WAL journal, full synchronous writes, foreign keys on; the schema is created on first use
(and `SqliteStore._migrate` brings an older file up to date); every write runs in one
immediate transaction, so it is saved whole or not at all, and writers of several
processes on one machine are serialised by SQLite.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from geo.limits import LIMITS, Limits

__all__ = ["SqliteStore"]


class SqliteStore:
    """Base of the SQLite-backed stores (proposals, closure plans).

    Parameters
    ----------
    path
        The database file (created, with its folder, on first use).
    limits
        The bounds in force (imports, text lengths).
    """

    SCHEMA = ""  # CREATE TABLE IF NOT EXISTS ... statements of the subclass

    def __init__(self, path: Path, *, limits: Limits = LIMITS) -> None:
        self.path = path
        self.limits = limits
        self._lock = threading.Lock()
        self._ready = False

    def _migrate(self, con: sqlite3.Connection) -> None:
        """Bring a file written by an older version up to date (nothing by default)."""

    @contextmanager
    def _connect(self, *, any_thread: bool = False) -> Iterator[sqlite3.Connection]:
        """Open the database; ``any_thread`` for a cursor that a stream reads from thread to thread, one at a time."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(
            sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=not any_thread)
        ) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            if not self._ready:
                con.executescript(self.SCHEMA)
                self._migrate(con)
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
