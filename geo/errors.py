"""The errors of the pure computation, and the base of every error the product raises.

Every error names the argument, what was expected, what came and how to fix it. Each
layer defines its own errors and their statuses (``GEO_ERRORS`` here, ``LAYERS_ERRORS`` in
``layers/errors.py``); the API merges the tables (``api/errors.py``). The statuses are
plain numbers: nothing here knows about HTTP libraries.
"""

from __future__ import annotations

__all__ = [
    "GEO_ERRORS",
    "CRSError",
    "DataSourceError",
    "InvalidGeometryError",
    "InvalidInputError",
    "NoRouteError",
    "NotFoundError",
    "OutsideCoverageError",
    "PlannerError",
    "RegistrationError",
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


class RegistrationError(PlannerError, ValueError):
    """The planar road network could not be registered to WGS84 within the bound."""


# Each class's HTTP status and stable error code (the handler walks an error's MRO, so a
# subclass without its own row takes its parent's).
GEO_ERRORS: dict[type[PlannerError], tuple[int, str]] = {
    NotFoundError: (404, "not_found"),
    InvalidInputError: (422, "invalid_input"),
    CRSError: (422, "crs_error"),
    InvalidGeometryError: (422, "invalid_geometry"),
    OutsideCoverageError: (422, "outside_coverage"),
    NoRouteError: (422, "no_route"),
    DataSourceError: (503, "data_unavailable"),
    RegistrationError: (500, "registration_failed"),
    PlannerError: (400, "planner_error"),
}
