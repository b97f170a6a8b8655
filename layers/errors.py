"""The errors raised by the stores and services of ``layers``, and their statuses.

They extend the hierarchy of ``geo/errors.py``; the API merges ``LAYERS_ERRORS`` with
``GEO_ERRORS`` into its one table (``api/errors.py``).
"""

from __future__ import annotations

from geo.errors import DataSourceError, PlannerError

__all__ = [
    "LAYERS_ERRORS",
    "AuthError",
    "ForbiddenError",
    "NetworkImportError",
    "PreconditionRequiredError",
    "StoreConfigError",
    "StoreUnavailableError",
    "VersionConflictError",
]


class NetworkImportError(DataSourceError):
    """A user's OpenStreetMap extract cannot be turned into a road network."""


class VersionConflictError(PlannerError, ValueError):
    """An edit was based on a version that is no longer the latest (it would lose an edit).

    Parameters
    ----------
    message
        What happened and how to fix it.
    current_version
        The latest version now.
    """

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message, current_version)
        self.current_version = current_version

    def __str__(self) -> str:
        """Return the message."""
        return str(self.args[0])


class PreconditionRequiredError(PlannerError, ValueError):
    """An edit did not say which version it was based on."""


class AuthError(PlannerError, PermissionError):
    """No valid API key was given for an operation that needs one."""


class ForbiddenError(PlannerError, PermissionError):
    """The API key's role does not allow the operation."""


class StoreUnavailableError(PlannerError, ConnectionError):
    """The shared database does not answer (restarting, unreachable): nothing was written, try again."""

    retry_after_s = 5


class StoreConfigError(PlannerError, RuntimeError):
    """The configured store cannot be used (unreachable, a URL that does not parse, a schema newer than the code)."""


LAYERS_ERRORS: dict[type[PlannerError], tuple[int, str]] = {
    NetworkImportError: (422, "network_import_failed"),
    VersionConflictError: (412, "version_conflict"),
    PreconditionRequiredError: (428, "precondition_required"),
    AuthError: (401, "unauthorized"),
    ForbiddenError: (403, "forbidden"),
    StoreUnavailableError: (503, "unavailable"),
    StoreConfigError: (503, "unavailable"),
}
