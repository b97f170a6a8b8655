"""Service health."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter

from api.context import NetworksDep
from api.schemas import Health
from layers.credits import OSM_CONTRIBUTORS

router = APIRouter(tags=["health"])


@functools.cache
def package_version() -> str:
    """Return the installed package's version ("0+unknown" from a source tree not installed).

    Read once: the running code is the version that was installed when it started.
    """
    try:
        return version("venue-planner")
    except PackageNotFoundError:
        return "0+unknown"


@router.get("/health", response_model=Health, operation_id="health")
async def health(networks: NetworksDep) -> Health:
    """Report that the service runs, and which road networks are loaded."""
    return Health(
        status="ok",
        version=package_version(),
        networks_loaded=sorted(f"{n.name}:{n.mode}" for n in networks.loaded()),
        attribution=OSM_CONTRIBUTORS,
    )
