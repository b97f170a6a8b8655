"""A throwaway PostgreSQL 15 + PostGIS 3 cluster for the tests (Debian's packages, installed by .ci/run).

Started with initdb and pg_ctl in a temporary folder on a free loopback port (through
``runuser -u postgres`` when the tests run as root, as initdb refuses root), and stopped
afterwards. Each test gets a fresh database cloned from a template that holds the schema.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

__all__ = ["Cluster", "throwaway_cluster"]


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL's server is not installed: the store tests need Debian's postgresql-15 and "
            "postgresql-15-postgis-3 (.ci/run installs them: apt-get install postgresql-15-postgis-3)."
        )
    return found[-1].parent


class Cluster:
    """A running throwaway cluster.

    Parameters
    ----------
    folder
        Where its data and socket live.
    port
        Its loopback port.
    """

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.bindir = _bindir()
        self._prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, dbname: str = "postgres") -> str:
        """Return the URL of one of its databases."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on the cluster (start, stop, restart)."""
        opts = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(
            [*self._prefix, str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-o", opts,
             "-l", str(self.folder / "log"), "-w", *args],
            check=True, capture_output=True,
        )  # fmt: skip

    def new_database(self, template: str | None = None) -> str:
        """Create an empty database (or a copy of ``template``) and return its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """Start a cluster in a new temporary folder; stop it and remove the folder afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="venue-planner-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        cluster = Cluster(folder, _free_port())
        subprocess.run(
            [*cluster._prefix, str(cluster.bindir / "initdb"), "-D", str(folder / "data"), "-A", "trust",
             "-U", "postgres", "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True,
        )  # fmt: skip
        cluster.pg_ctl("start")
        try:
            yield cluster
        finally:
            cluster.pg_ctl("stop", "-m", "immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
