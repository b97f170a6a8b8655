"""Imported road networks shared through the PostgreSQL store, so every replica knows them.

An import on one host writes its source files (the OSM extract, or a download's GraphML)
into ``network_files`` (keyed by SHA-256, so a file is stored once) and what it was imported
as into ``networks``. Every host mirrors those rows into its own imports folder, at most once
a second, when it next lists its networks; it then builds its own graph cache from the
mirrored file the first time it needs it, as it does for an import of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from geo.errors import InvalidInputError
from layers.database import Connection, Database
from layers.errors import StoreUnavailableError

log = logging.getLogger(__name__)

__all__ = ["SharedNetworks", "write_network"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_network(con: Connection, name: str, meta: dict[str, Any], files: list[Path], *, replace: bool) -> None:
    """Write one imported network's files and metadata rows in the caller's transaction.

    Parameters
    ----------
    con
        A connection in a write transaction of the shared database.
    name
        The network's name.
    meta
        What it was imported as (the metadata file's content).
    files
        Its source files.
    replace
        Replace a network of the same name (else that is refused, nothing written).
    """
    if not replace and con.execute("SELECT 1 FROM networks WHERE name = ?", (name,)).fetchone():
        raise InvalidInputError(f"the database has a network called {name!r} already; nothing was copied.")
    listed = []
    for f in files:
        data = f.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        con.execute(
            "INSERT INTO network_files(sha256, data) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING", (digest, data)
        )
        listed.append({"name": f.name, "sha256": digest})
    con.execute(
        "INSERT INTO networks(name, meta, files, updated_at) VALUES (?, CAST(? AS jsonb), CAST(? AS jsonb), ?) "
        "ON CONFLICT (name) DO UPDATE SET meta = excluded.meta, files = excluded.files, updated_at = excluded.updated_at",
        (name, json.dumps(meta, ensure_ascii=False), json.dumps(listed), str(meta.get("imported_at", ""))),
    )


class SharedNetworks:
    """The imported networks' rows of the shared store, mirrored into a local folder.

    Parameters
    ----------
    db
        The shared database.
    every_s
        The longest a host goes without looking for networks imported elsewhere.
    """

    def __init__(self, db: Database, *, every_s: float = 1.0) -> None:
        self.db = db
        self.every_s = every_s
        self._checked = -float("inf")
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def publish(self, name: str, meta: dict[str, Any], files: list[Path]) -> None:
        """Store an import's files and metadata (replacing an import of the same name).

        Parameters
        ----------
        name
            The network's name.
        meta
            What it was imported as (the metadata file's content).
        files
            Its source files, in the imports folder.
        """
        with self.db.write() as con:
            write_network(con, name, meta, files, replace=True)
        self._checked = -float("inf")

    def sync(self, folder: Path, *, force: bool = False) -> bool:
        """Mirror the shared imports into ``folder``; return whether anything changed.

        Without ``force`` this never waits on the database: at most once every ``every_s``
        it starts a look in a background thread (a request that lists the networks is not
        held up, nor failed, while the database is away) and returns False.

        Parameters
        ----------
        folder
            This host's imports folder.
        force
            Look now, in this thread, and raise `StoreUnavailableError` if the database is away.
        """
        if force:
            with self._lock:
                self._checked = time.monotonic()
                return self._sync_now(folder)
        now = time.monotonic()
        if now - self._checked < self.every_s or (self._thread is not None and self._thread.is_alive()):
            return False
        self._checked = now
        self._thread = threading.Thread(target=self._sync_quietly, args=(folder,), daemon=True, name="network-sync")
        self._thread.start()
        return False

    def _sync_quietly(self, folder: Path) -> None:
        try:
            with self._lock:
                self._sync_now(folder)
        except StoreUnavailableError as exc:
            log.warning("imported networks not mirrored: %s", exc)

    def _sync_now(self, folder: Path) -> bool:
        with self.db.read() as con:
            rows = con.execute("SELECT name, meta::text, files::text FROM networks ORDER BY name").fetchall()
        changed = False
        for name, meta_text, files_text in rows:
            changed |= self._mirror(folder, str(name), json.loads(meta_text), json.loads(files_text))
        return changed

    def _mirror(self, folder: Path, name: str, meta: dict[str, Any], files: list[dict[str, str]]) -> bool:
        """Bring one network's files and metadata into ``folder`` (the metadata last: it makes it visible)."""
        meta_path = folder / f"{name}.json"
        text = json.dumps(meta, indent=2, ensure_ascii=False)
        if meta_path.is_file() and meta_path.read_text(encoding="utf-8") == text:
            return False
        folder.mkdir(parents=True, exist_ok=True)
        for item in files:
            target = folder / Path(item["name"]).name
            if target.is_file() and _sha256(target) == item["sha256"]:
                continue
            with self.db.read() as con:
                row = con.execute("SELECT data FROM network_files WHERE sha256 = ?", (item["sha256"],)).fetchone()
            if row is None:
                return False  # written half-way elsewhere: the next look finds it whole
            tmp = target.with_name(target.name + ".part")
            tmp.write_bytes(bytes(row[0]))
            tmp.replace(target)
        tmp = meta_path.with_name(meta_path.name + ".part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(meta_path)
        return True
