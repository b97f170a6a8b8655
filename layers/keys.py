"""API keys and their roles, stored hashed in an SQLite file or the shared PostgreSQL.

A key is ``vp_`` followed by 43 characters from ``secrets.token_urlsafe(32)`` (256 random
bits). Only its SHA-256 digest is stored (``hashlib``, OpenSSL's implementation): for a
random 256-bit secret a fast digest is the right tool, as GitHub and PyPI do for their
tokens; slow password hashes (bcrypt, argon2) exist to protect low-entropy passwords and
would cost tens of milliseconds on every write. A lookup compares digests in constant
time. Revoked keys stay listed with the time of revocation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from geo.errors import InvalidInputError, NotFoundError
from layers.database import Database
from layers.errors import AuthError, ForbiddenError
from layers.store import RecordStore

__all__ = ["ROLES", "ApiKey", "KeyStore"]

ROLES = ("viewer", "editor", "admin")  # each role may do what the ones before it may
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


@dataclass(frozen=True)
class ApiKey:
    """A key's holder and role (never the key itself)."""

    name: str
    role: str
    created_at: str
    revoked_at: str | None = None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore(RecordStore):
    """API keys in an SQLite file (``<data dir>/keys.sqlite``, created on first use) or the shared PostgreSQL.

    Every lookup reads the store, so a key added or revoked through one replica holds on
    every replica at once.

    Parameters
    ----------
    where
        The SQLite file or a `layers.database.PostgresDatabase`.
    """

    SCHEMA = _SCHEMA

    def __init__(self, where: Path | Database) -> None:
        super().__init__(where)

    def add(self, name: str, *, role: str) -> str:
        """Create a key for ``name`` with ``role`` and return it (it is shown once, stored only hashed).

        Parameters
        ----------
        name
            Who the key is for (unique).
        role
            ``"viewer"``, ``"editor"`` or ``"admin"``.
        """
        if not _NAME_RE.match(name):
            raise InvalidInputError(
                f"key name {name!r} must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit."
            )
        if role not in ROLES:
            raise InvalidInputError(f"role must be one of {', '.join(ROLES)}; got {role!r}.")
        key = "vp_" + secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write() as con:
            if con.execute("SELECT 1 FROM keys WHERE name = ?", (name,)).fetchone():
                raise InvalidInputError(f"a key named {name!r} exists; revoke it first or choose another name.")
            con.execute(
                "INSERT INTO keys(name, role, digest, created_at) VALUES (?, ?, ?, ?)", (name, role, _digest(key), now)
            )
        return key

    def list(self) -> list[ApiKey]:
        """Return every key's name, role and dates (revoked ones too)."""
        with self._connect() as con:
            rows = con.execute("SELECT name, role, created_at, revoked_at FROM keys ORDER BY name").fetchall()
        return [ApiKey(str(n), str(r), str(c), v) for n, r, c, v in rows]

    def revoke(self, name: str) -> None:
        """Revoke the key of ``name`` (it stops working at once).

        Parameters
        ----------
        name
            Whose key to revoke.
        """
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write() as con:
            cur = con.execute("UPDATE keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name))
            if cur.rowcount == 0:
                raise NotFoundError(f"no active key named {name!r}; `keys list` shows them.")

    def lookup(self, key: str) -> ApiKey | None:
        """Return the active key matching ``key``, or None.

        Parameters
        ----------
        key
            The key as sent.
        """
        if not key.startswith("vp_") or len(key) > 200:
            return None
        digest = _digest(key)
        with self._connect() as con:
            row = con.execute(
                "SELECT name, role, created_at, digest FROM keys WHERE digest = ? AND revoked_at IS NULL", (digest,)
            ).fetchone()
        if row is None or not hmac.compare_digest(str(row[3]), digest):
            return None
        return ApiKey(str(row[0]), str(row[1]), str(row[2]))

    def authorize(self, authorization: str | None, *, role: str) -> ApiKey:
        """Return the key of an ``Authorization: Bearer KEY`` header if its role reaches ``role``.

        Parameters
        ----------
        authorization
            The ``Authorization`` header, or None.
        role
            The least role the operation needs.

        Raises
        ------
        AuthError
            No header, not a bearer key, or an unknown or revoked key.
        ForbiddenError
            A valid key whose role is below ``role``.
        """
        if not authorization:
            raise AuthError(f"this operation needs an API key with the {role} role: send 'Authorization: Bearer KEY'.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("the Authorization header must be 'Bearer KEY'.")
        found = self.lookup(token.strip())
        if found is None:
            raise AuthError("the API key is not valid (unknown or revoked); ask an administrator for one.")
        if ROLES.index(found.role) < ROLES.index(role):
            raise ForbiddenError(f"the key {found.name!r} has the {found.role} role; this operation needs {role}.")
        return found
