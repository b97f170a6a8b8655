"""The objects a request works with, built once per application."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.compute import ComputePool
from api.settings import Settings
from layers.coverage import CoverageService
from layers.footprints import FootprintService
from layers.impact import ImpactService
from layers.keys import KeyStore
from layers.networks import NetworkStore
from layers.plans import PlanStore
from layers.proposals import ProposalStore
from layers.registry import LayerStore
from layers.routing import RoutingService
from layers.sites import SiteCatalog

__all__ = ["Context", "get_context"]


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

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        """Build the stores for ``settings``."""
        networks = NetworkStore(settings.seeds_dir, settings.data_dir, settings.cache_dir)
        layers = LayerStore(settings.seeds_dir, networks)
        sites = SiteCatalog(layers)
        routing = RoutingService(networks, sites, site_access_max_m=settings.site_access_max_m)
        coverage = CoverageService(networks, layers, routing)
        footprints = FootprintService(layers, networks, sites, routing, coverage)
        proposals = ProposalStore(settings.data_dir / "proposals.sqlite")
        pool = ComputePool(workers=settings.compute_workers, timeout_s=settings.compute_timeout_s)
        keys = KeyStore(settings.data_dir / "keys.sqlite")
        impact = ImpactService(routing, coverage, layers)
        plans = PlanStore(settings.data_dir / "plans.sqlite")
        ctx = cls(
            settings, networks, layers, sites, routing, coverage, footprints, proposals, pool, keys, impact, plans
        )
        pool.bind(ctx)
        return ctx


async def get_context(request: Request) -> Context:
    """Return the application's context (a FastAPI dependency)."""
    ctx: Context = request.app.state.context
    return ctx
