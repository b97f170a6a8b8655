"""Service health."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from fastapi import APIRouter, Depends

from api.context import Context, get_context
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, operation_id="health")
def health(ctx: Annotated[Context, Depends(get_context)]) -> Health:
    """Report that the service runs, and which road networks are loaded."""
    try:
        ver = version("venue-planner")
    except PackageNotFoundError:  # running from a source tree without installing
        ver = "0+unknown"
    return Health(
        status="ok",
        version=ver,
        networks_loaded=sorted(f"{n.name}:{n.mode}" for n in ctx.networks.loaded()),
        attribution="© OpenStreetMap contributors",
    )
