"""The objects a request works with, built once per application, and one typed dependency per service.

A router takes the service it uses (``routing: RoutingDep``), as tipg resolves what a route
needs in one dependency; a router test can build a bare app with that one service (set
``app.state.context`` to an object with just that attribute, or override the getter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from api.compute import ComputePool
from api.settings import Settings
from geo.limits import Limits
from layers.coverage import CoverageService
from layers.database import PostgresDatabase
from layers.errors import StoreConfigError
from layers.footprints import FootprintService
from layers.impact import ImpactService
from layers.keys import KeyStore
from layers.networks import NetworkStore
from layers.pgschema import prepare
from layers.plans import PlanStore
from layers.proposals import ProposalStore
from layers.registry import LayerStore
from layers.routing import RoutingService
from layers.sharednets import SharedNetworks
from layers.sites import SiteCatalog
from layers.transit import TransitService

__all__ = [
    "DEP_FIELDS",
    "Context",
    "ContextDep",
    "CoverageDep",
    "FootprintsDep",
    "ImpactDep",
    "KeysDep",
    "LayersDep",
    "LimitsDep",
    "NetworksDep",
    "PlansDep",
    "PoolDep",
    "ProposalsDep",
    "RoutingDep",
    "SettingsDep",
    "SitesDep",
    "TransitDep",
    "get_context",
    "open_database",
]


def open_database(settings: Settings, *, migrate: bool = True) -> PostgresDatabase | None:
    """Return the shared database of ``settings`` with its schema up to date, or None (SQLite files).

    Parameters
    ----------
    settings
        The service's settings.
    migrate
        Apply the migrations it lacks (under an advisory lock: replicas starting together wait).
    """
    if not settings.database_url:
        return None
    try:
        db = PostgresDatabase(
            settings.database_url, pool_size=settings.database_pool_size, timeout_s=settings.database_timeout_s
        )
    except ValueError as exc:
        raise StoreConfigError(str(exc)) from None
    if migrate:
        prepare(db)
    return db


@dataclass
class Context:
    """Settings and the stores built from them."""

    settings: Settings
    networks: NetworkStore
    layers: LayerStore
    sites: SiteCatalog
    routing: RoutingService
    coverage: CoverageService
    footprints: FootprintService
    proposals: ProposalStore
    pool: ComputePool
    keys: KeyStore
    impact: ImpactService
    plans: PlanStore
    limits: Limits
    transit: TransitService

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        """Build the stores for ``settings``."""
        limits = settings.limits()
        db = open_database(settings)
        shared = None if db is None else SharedNetworks(db)
        networks = NetworkStore(settings.seeds_dir, settings.data_dir, settings.cache_dir, shared=shared)
        layers = LayerStore(settings.seeds_dir, networks)
        sites = SiteCatalog(layers)
        routing = RoutingService(networks, sites, site_access_max_m=settings.site_access_max_m, limits=limits)
        transit = TransitService(settings.seeds_dir, routing)
        coverage = CoverageService(networks, layers, routing, transit=transit)
        footprints = FootprintService(layers, networks, sites, routing, coverage)
        proposals = ProposalStore(db or settings.data_dir / "proposals.sqlite", limits=limits)
        pool = ComputePool(
            workers=settings.compute_workers, timeout_s=settings.compute_timeout_s, max_waiting=settings.max_waiting
        )
        keys = KeyStore(db or settings.data_dir / "keys.sqlite")
        impact = ImpactService(routing, coverage, layers)
        plans = PlanStore(db or settings.data_dir / "plans.sqlite", limits=limits)
        ctx = cls(
            settings,
            networks,
            layers,
            sites,
            routing,
            coverage,
            footprints,
            proposals,
            pool,
            keys,
            impact,
            plans,
            limits,
            transit,
        )
        pool.bind(ctx)
        return ctx


async def get_context(request: Request) -> Context:
    """Return the application's context (a FastAPI dependency)."""
    ctx: Context = request.app.state.context
    return ctx


def _service(request: Request, name: str) -> Any:  # noqa: ANN401 - each getter below types it
    return getattr(request.app.state.context, name)


async def get_settings(request: Request) -> Settings:
    """Return the application's settings."""
    out: Settings = _service(request, "settings")
    return out


async def get_networks(request: Request) -> NetworkStore:
    """Return the network store."""
    out: NetworkStore = _service(request, "networks")
    return out


async def get_layers(request: Request) -> LayerStore:
    """Return the layer store."""
    out: LayerStore = _service(request, "layers")
    return out


async def get_sites(request: Request) -> SiteCatalog:
    """Return the site catalogue."""
    out: SiteCatalog = _service(request, "sites")
    return out


async def get_routing(request: Request) -> RoutingService:
    """Return the routing service."""
    out: RoutingService = _service(request, "routing")
    return out


async def get_coverage(request: Request) -> CoverageService:
    """Return the coverage service."""
    out: CoverageService = _service(request, "coverage")
    return out


async def get_footprints(request: Request) -> FootprintService:
    """Return the footprint service."""
    out: FootprintService = _service(request, "footprints")
    return out


async def get_proposals(request: Request) -> ProposalStore:
    """Return the proposal store."""
    out: ProposalStore = _service(request, "proposals")
    return out


async def get_pool(request: Request) -> ComputePool:
    """Return the compute pool."""
    out: ComputePool = _service(request, "pool")
    return out


async def get_keys(request: Request) -> KeyStore:
    """Return the key store."""
    out: KeyStore = _service(request, "keys")
    return out


async def get_impact(request: Request) -> ImpactService:
    """Return the impact service."""
    out: ImpactService = _service(request, "impact")
    return out


async def get_transit(request: Request) -> TransitService:
    """Return the public transport service."""
    out: TransitService = _service(request, "transit")
    return out


async def get_limits(request: Request) -> Limits:
    """Return the request limits in force."""
    out: Limits = _service(request, "limits")
    return out


async def get_plans(request: Request) -> PlanStore:
    """Return the closure plan store."""
    out: PlanStore = _service(request, "plans")
    return out


ContextDep = Annotated[Context, Depends(get_context)]  # the map pages, which draw on every layer
SettingsDep = Annotated[Settings, Depends(get_settings)]
NetworksDep = Annotated[NetworkStore, Depends(get_networks)]
LayersDep = Annotated[LayerStore, Depends(get_layers)]
SitesDep = Annotated[SiteCatalog, Depends(get_sites)]
RoutingDep = Annotated[RoutingService, Depends(get_routing)]
CoverageDep = Annotated[CoverageService, Depends(get_coverage)]
FootprintsDep = Annotated[FootprintService, Depends(get_footprints)]
ProposalsDep = Annotated[ProposalStore, Depends(get_proposals)]
PoolDep = Annotated[ComputePool, Depends(get_pool)]
KeysDep = Annotated[KeyStore, Depends(get_keys)]
ImpactDep = Annotated[ImpactService, Depends(get_impact)]
PlansDep = Annotated[PlanStore, Depends(get_plans)]
LimitsDep = Annotated[Limits, Depends(get_limits)]
TransitDep = Annotated[TransitService, Depends(get_transit)]


# The `Context` field behind each dependency ("" for the whole context): a compute worker
# passes its own copy of each (see `api.compute.bounded`, which reads a route's signature once).
DEP_FIELDS: dict[str, str] = {
    "ContextDep": "",
    "SettingsDep": "settings",
    "NetworksDep": "networks",
    "LayersDep": "layers",
    "SitesDep": "sites",
    "RoutingDep": "routing",
    "CoverageDep": "coverage",
    "FootprintsDep": "footprints",
    "ProposalsDep": "proposals",
    "PoolDep": "pool",
    "KeysDep": "keys",
    "TransitDep": "transit",
    "ImpactDep": "impact",
    "PlansDep": "plans",
    "LimitsDep": "limits",
}
