"""Who may do what: API keys with roles, as FastAPI dependencies.

Writes (creating, changing, deleting, restoring and importing proposals) need a key with
the editor or admin role; reads are open unless ``require_key_for_reads`` is set, when a
viewer's key is enough. Keys are sent as ``Authorization: Bearer KEY`` and made with
``venue-planner keys add NAME --role viewer|editor|admin``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import KeysDep, SettingsDep
from layers.keys import ApiKey

__all__ = ["bearer", "editor", "reader"]

bearer = HTTPBearer(auto_error=False, description="An API key: `venue-planner keys add NAME --role editor`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _header(cred: HTTPAuthorizationCredentials | None) -> str | None:
    return None if cred is None else f"{cred.scheme} {cred.credentials}"


async def editor(keys: KeysDep, cred: Credentials) -> ApiKey:
    """Return the caller's key; it must have the editor or admin role (401 without one, 403 for a viewer)."""
    return keys.authorize(_header(cred), role="editor")


async def reader(keys: KeysDep, settings: SettingsDep, cred: Credentials) -> ApiKey | None:
    """Let reads through, or, with ``require_key_for_reads``, check for a key of any role."""
    if not settings.require_key_for_reads:
        return None
    return keys.authorize(_header(cred), role="viewer")
