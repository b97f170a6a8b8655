"""Where the stores keep their records: an SQLite file per store (the default) or one PostgreSQL.

Every store (proposals, closure plans, API keys, imported networks) talks to a `Database`,
which gives it connections whose ``execute(sql, params)`` takes ``?`` placeholders on both
engines, and a `Dialect` for the few expressions that differ (geometry and JSON columns).

- `SqliteDatabase`: one file per store, WAL journal, ``synchronous=FULL``, foreign keys on;
  the store's schema is created on first use and brought up to date by its own ``migrate``;
  every write is one ``BEGIN IMMEDIATE`` transaction, so writers of several processes on one
  machine are serialised by SQLite.
- `PostgresDatabase`: one database shared by every replica (``VENUE_PLANNER_DATABASE_URL``),
  geometries as PostGIS columns in EPSG:4326, its schema built by the versioned migrations
  of `layers.pgschema` under an advisory lock. Connections come from a bounded pool opened
  lazily in each process (a pool opened before a fork breaks in the children), with connect,
  wait and statement timeouts; while the server is away every call raises
  `StoreUnavailableError` (the API's 503 with ``Retry-After``) and the pool reconnects by itself.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from layers.errors import StoreUnavailableError

if TYPE_CHECKING:
    import psycopg_pool

__all__ = [
    "PG_DIALECT",
    "SQLITE_DIALECT",
    "Connection",
    "Cursor",
    "Database",
    "Dialect",
    "PostgresDatabase",
    "SqliteDatabase",
    "parse_database_url",
]


class Cursor(Protocol):
    """What a store reads from a statement (both engines' cursors have it)."""

    rowcount: int

    def fetchone(self) -> Any: ...  # noqa: ANN401, D102 - a row of any column types

    def fetchall(self) -> list[Any]: ...  # noqa: D102

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection whose ``execute`` takes ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...  # noqa: D102


@dataclass(frozen=True)
class Dialect:
    """The expressions that differ between the engines.

    Attributes
    ----------
    name
        ``"sqlite"`` or ``"postgresql"``.
    geom_in
        The placeholder of a geometry value (GeoJSON text on SQLite, WKB into PostGIS).
    geom_out
        A format string turning a geometry column into what `decode_geom` reads.
    json_in
        The placeholder of a JSON value (text on SQLite, ``jsonb`` on PostgreSQL).
    json_out
        A format string turning a JSON column into text.
    json_get
        A format string reading one member of a JSON object column (``{col}``, ``{key}``).
    """

    name: str
    geom_in: str
    geom_out: str
    json_in: str
    json_out: str
    json_get: str

    def encode_geom(self, geom: Any) -> Any:  # noqa: ANN401 - a shapely geometry
        """Return a geometry as the engine's parameter.

        Parameters
        ----------
        geom
            A shapely geometry in WGS84.
        """
        import shapely

        return shapely.to_wkb(geom) if self.name == "postgresql" else shapely.to_geojson(geom)

    def decode_geom(self, value: Any) -> Any:  # noqa: ANN401 - a shapely geometry
        """Return a stored geometry as a shapely geometry.

        Parameters
        ----------
        value
            The column read through ``geom_out``.
        """
        import shapely

        return shapely.from_wkb(bytes(value)) if self.name == "postgresql" else shapely.from_geojson(value)


SQLITE_DIALECT = Dialect("sqlite", "?", "{}", "?", "{}", "json_extract({col}, '$.{key}')")
PG_DIALECT = Dialect(
    "postgresql", "ST_SetSRID(ST_GeomFromWKB(?), 4326)", "ST_AsBinary({})", "CAST(? AS jsonb)", "{}::text",
    "({col} -> '{key}')",
)  # fmt: skip


class Database(Protocol):
    """A place where a store keeps its tables."""

    dialect: Dialect

    def read(self) -> Any: ...  # noqa: ANN401, D102 - a context manager of a Connection

    def write(self) -> Any: ...  # noqa: ANN401, D102 - a context manager of a Connection in one transaction

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]: ...  # noqa: D102

    def describe(self) -> str: ...  # noqa: D102


class SqliteDatabase:
    """One store's SQLite file, created (with its folder and schema) on first use.

    Parameters
    ----------
    path
        The database file.
    schema
        ``CREATE TABLE IF NOT EXISTS`` statements of the store.
    migrate
        Brings an older file up to date (called once, after ``schema``).
    """

    dialect = SQLITE_DIALECT

    def __init__(self, path: Path, schema: str, migrate: Callable[[sqlite3.Connection], None] | None = None) -> None:
        self.path = path
        self.schema = schema
        self._migrate = migrate
        self._lock = threading.Lock()
        self._ready = False

    def describe(self) -> str:
        """Return where the records are (for messages)."""
        return f"SQLite file {self.path}"

    @contextmanager
    def _open(self, *, any_thread: bool = False) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(
            sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=not any_thread)
        ) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            if not self._ready:
                con.executescript(self.schema)
                if self._migrate is not None:
                    self._migrate(con)
                self._ready = True
            yield con

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Open the file for reading."""
        with self._open() as con:
            yield con

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Run statements in one immediate transaction: all of it is saved, or none."""
        with self._lock, self._open() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """Yield the rows of one query one by one (a stream read from thread to thread, one at a time).

        Parameters
        ----------
        sql, params
            The query and its parameters.
        """
        with self._open(any_thread=True) as con:
            yield from con.execute(sql, params)


def parse_database_url(url: str) -> str:
    """Return ``url`` if it is a PostgreSQL URL that parses, else raise a one-line `ValueError`.

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/database`` (libpq's URI form).
    """
    import psycopg.conninfo

    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError(
            "VENUE_PLANNER_DATABASE_URL must start with postgresql:// (e.g. postgresql://planner@db-host/venue); "
            f"got {url[:40]!r}."
        )
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"VENUE_PLANNER_DATABASE_URL does not parse: {str(exc).splitlines()[0]}") from None
    return url


class _PgConnection:
    """A psycopg connection whose ``execute`` takes ``?`` placeholders, as sqlite3's does.

    Parameters
    ----------
    con
        The psycopg connection.
    """

    _cache: dict[str, str] = {}  # noqa: RUF012 - a per-class memo of translated statements

    def __init__(self, con: Any) -> None:  # noqa: ANN401 - psycopg.Connection
        self._con = con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:  # noqa: ANN401 - a psycopg cursor
        return self._con.execute(self.translate(sql), params or None)

    @classmethod
    def translate(cls, sql: str) -> str:
        """Return a statement with ``?`` placeholders in psycopg's ``%s`` form (memoised).

        Parameters
        ----------
        sql
            The statement as the stores write it.
        """
        text = cls._cache.get(sql)
        if text is None:
            text = cls._cache[sql] = sql.replace("%", "%%").replace("?", "%s")
        return text


class PostgresDatabase:
    """The shared PostgreSQL/PostGIS database of several replicas.

    Parameters
    ----------
    url
        ``postgresql://…``.
    pool_size
        Most connections one process holds.
    timeout_s
        How long a call waits to connect or for a free connection, seconds.
    statement_timeout_s
        The longest one statement may run, seconds.
    """

    dialect = PG_DIALECT
    _pools: dict[tuple[str, int], psycopg_pool.ConnectionPool] = {}  # noqa: RUF012 - one pool per URL and process
    _pools_lock = threading.Lock()

    def __init__(
        self, url: str, *, pool_size: int = 8, timeout_s: float = 5.0, statement_timeout_s: float = 30.0
    ) -> None:
        self.url = parse_database_url(url)
        self.pool_size = pool_size
        self.timeout_s = timeout_s
        self.statement_timeout_s = statement_timeout_s

    def describe(self) -> str:
        """Return where the records are, without the password."""
        import psycopg.conninfo

        info = psycopg.conninfo.conninfo_to_dict(self.url)
        return (
            f"PostgreSQL database {info.get('dbname', '?')} on {info.get('host', 'localhost')}:{info.get('port', 5432)}"
        )

    def connect_kwargs(self) -> dict[str, Any]:
        """Return the connection options (timeouts, autocommit outside explicit transactions)."""
        return {
            "connect_timeout": max(1, round(self.timeout_s)),
            "options": f"-c statement_timeout={round(self.statement_timeout_s * 1000)}",
            "autocommit": True,
        }

    def pool(self) -> psycopg_pool.ConnectionPool:
        """Return this process's pool (opened on first use, after any fork)."""
        key = (self.url, os.getpid())
        found = self._pools.get(key)
        if found is not None:
            return found
        import psycopg_pool

        with self._pools_lock:
            found = self._pools.get(key)
            if found is None:
                found = psycopg_pool.ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self.pool_size,
                    timeout=self.timeout_s,
                    kwargs=self.connect_kwargs(),
                    check=psycopg_pool.ConnectionPool.check_connection,
                    reconnect_timeout=0,  # keep trying: never give up on the server coming back
                    open=True,
                    name="venue-planner",
                )
                self._pools[key] = found
        return found

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        import psycopg
        import psycopg_pool

        try:
            with self.pool().connection() as con:
                yield con
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            if isinstance(exc, psycopg.errors.QueryCanceled):
                raise
            raise StoreUnavailableError(
                f"the database ({self.describe()}) is not answering: {str(exc).splitlines()[0][:200]}. "
                "Nothing was written; try again shortly."
            ) from None

    @contextmanager
    def read(self) -> Iterator[_PgConnection]:
        """Borrow a connection for reading (each statement is its own transaction)."""
        with self._connection() as con:
            yield _PgConnection(con)

    @contextmanager
    def write(self) -> Iterator[_PgConnection]:
        """Run statements in one transaction: all of it is saved, or none."""
        with self._connection() as con, con.transaction():
            yield _PgConnection(con)

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """Yield the rows of one query through a server-side cursor (an export never holds them all).

        Parameters
        ----------
        sql, params
            The query and its parameters.
        """
        with self._connection() as con, con.transaction(), con.cursor(name="venue_planner_stream") as cur:
            cur.execute(_PgConnection.translate(sql), params or None)
            yield from cur

    @classmethod
    def close_all(cls) -> None:
        """Close this process's pools (at shutdown)."""
        with cls._pools_lock:
            for (_url, pid), pool in list(cls._pools.items()):
                if pid == os.getpid():
                    pool.close()
                    del cls._pools[(_url, pid)]


# A pool opened before a fork breaks in the children (they would share its sockets): the
# server closes its pools before it forks its compute workers' zygote; each process then
# opens its own on first use.
os.register_at_fork(before=PostgresDatabase.close_all)
