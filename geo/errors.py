"""One error hierarchy for the whole product.

Every error names the argument, what was expected, what came and how to fix it. The
API maps each class to an HTTP status and a stable error code (``api/errors.py``).
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CRSError",
    "DataSourceError",
    "ForbiddenError",
    "InvalidGeometryError",
    "InvalidInputError",
    "NetworkImportError",
    "NoRouteError",
    "NotFoundError",
    "OutsideCoverageError",
    "PlannerError",
    "PreconditionRequiredError",
    "RegistrationError",
    "VersionConflictError",
]


class PlannerError(Exception):
    """Base class of every error the planner raises on purpose."""


class InvalidInputError(PlannerError, ValueError):
    """An argument has the wrong value, type or range."""


class CRSError(PlannerError, ValueError):
    """A coordinate reference system is missing, different from the expected one, or out of zone."""


class InvalidGeometryError(PlannerError, ValueError):
    """A geometry is empty, invalid, or of the wrong type."""


class NotFoundError(PlannerError, KeyError):
    """A named object (site, layer, network) does not exist."""

    def __str__(self) -> str:
        """Return the message without the quotes KeyError adds."""
        return str(self.args[0]) if self.args else ""


class OutsideCoverageError(PlannerError, ValueError):
    """A place lies outside every loaded road network or data layer."""


class NoRouteError(PlannerError, ValueError):
    """No path joins the requested points on the network."""


class DataSourceError(PlannerError, OSError):
    """A data file is missing, unreadable or does not hold what it should."""


class NetworkImportError(DataSourceError):
    """A user's OpenStreetMap extract cannot be turned into a road network."""


class RegistrationError(PlannerError, ValueError):
    """The planar road network could not be registered to WGS84 within the bound."""


class VersionConflictError(PlannerError, ValueError):
    """An edit was based on a version that is no longer the latest (it would lose an edit)."""

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
