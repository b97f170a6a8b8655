"""The ``venue-planner db`` commands: the shared PostgreSQL store's migrations, status and copy-in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.settings import Settings
from layers.database import PostgresDatabase

__all__ = ["add_db_commands"]


def _database(settings: Settings) -> PostgresDatabase | None:
    from api.context import open_database

    if not settings.database_url:
        print(
            "error: VENUE_PLANNER_DATABASE_URL is not set: the store is the SQLite files in "
            f"{settings.data_dir} (nothing to migrate). Set it to postgresql://… to use a shared database.",
            file=sys.stderr,
        )
        return None
    return open_database(settings, migrate=False)


def cmd_db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Bring the shared database's schema up to date (under an advisory lock)."""
    from layers.pgschema import MIGRATIONS, prepare

    db = _database(settings)
    if db is None:
        return 2
    done = prepare(db, dry_run=args.dry_run)
    verb = "would apply" if args.dry_run else "applied"
    for n, what in done:
        print(f"{verb} migration {n}: {what}")
    print(f"{db.describe()}: schema version {MIGRATIONS[-1][0]}" + (" (up to date)" if not done else ""))
    return 0


def cmd_db_copy(args: argparse.Namespace, settings: Settings) -> int:
    """Copy this host's SQLite store into the shared database (all or none, read back and compared)."""
    from layers.dbcopy import copy_to_postgres
    from layers.pgschema import prepare

    db = _database(settings)
    if db is None:
        return 2
    prepare(db)
    source = Path(args.source) if args.source else settings.data_dir
    counts = copy_to_postgres(source, db)
    print(f"copied from {source} into the {db.describe()} (read back and compared):")
    for table, n in counts.items():
        print(f"  {table:<14} {n:>7,}")
    return 0


def add_db_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db migrate`` and ``db copy`` to the command line.

    Parameters
    ----------
    sub
        The top-level subcommands.
    """
    db = sub.add_parser("db", help="the shared PostgreSQL store (VENUE_PLANNER_DATABASE_URL)").add_subparsers(
        dest="db_cmd", required=True
    )
    m = db.add_parser("migrate", help="apply the schema migrations the database lacks (replicas also do on start)")
    m.add_argument("--dry-run", action="store_true", help="only list the migrations that would be applied")
    m.set_defaults(func=cmd_db_migrate)
    c = db.add_parser("copy", help="copy a host's SQLite store (proposals, plans, keys, networks) into the database")
    c.add_argument(
        "--from", dest="source", metavar="DATA_DIR", help="the data folder to copy (default: VENUE_PLANNER_DATA_DIR)"
    )
    c.set_defaults(func=cmd_db_copy)
