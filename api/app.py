"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.auth import reader
from api.context import Context
from api.errors import install_error_handlers
from api.middleware import NONCE_TOKEN, BodyGuard, RequestContext
from api.openapi import install_openapi
from api.routers import (
    basemap,
    coverage,
    footprints,
    health,
    impact,
    layers,
    maps,
    motorcades,
    ogc,
    plans,
    proposals,
    routes,
    sites,
    transit,
)
from api.schemas import ERROR_RESPONSES
from api.settings import Settings
from geo.network import MODES
from layers.basemap import BASEMAP_FILE, basemap_archive

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def warm(ctx: Context) -> None:
    """Load or build everything a first request would otherwise wait for (caches on disk are reused).

    The road graphs of every network and mode, the routing engines and isochrone grids,
    the road layer that site pages draw, the footprint zones and every site page's bands.
    """
    for src in ctx.networks.sources():
        for mode in src.modes:
            ctx.networks.get(src.name, mode)
    log.info("networks loaded: %s", ", ".join(f"{n.name}:{n.mode}" for n in ctx.networks.loaded()))
    for mode in MODES:
        ctx.routing.warm(mode)
        ctx.coverage.warm(mode)
    ctx.transit.egress_table(ctx.transit.walk_network())  # the stations' entrances snapped, their walks
    ctx.layers.query("roads-drive", bbox=(116.39, 39.90, 116.40, 39.91))
    _ = (ctx.footprints.heritage_utm, ctx.footprints.zones_utm)
    ctx.coverage.warm_sites()  # the bands of every site page, about 5 s
    if (ctx.settings.seeds_dir / BASEMAP_FILE).is_file():  # its directory parsed once (0.1 s), not by the first tile
        basemap_archive(ctx.settings.seeds_dir / BASEMAP_FILE)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Return the planner's FastAPI application for ``settings`` (default: from the environment)."""
    settings = settings or Settings()
    ctx = Context.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.preload_networks:
            await run_in_threadpool(warm, ctx)
        # The graphs hold millions of long-lived objects: keep the cyclic collector off them,
        # or its full passes stall requests (measured p99 140 ms before, see bench/). The
        # collector may have been off for the warm-up (`venue-planner serve` turns it off:
        # its passes over the growing heap took half the time of loading the graphs). No
        # collection before the freeze: over the 0.87 M objects of a warm-up it took 0.4 s
        # and found 3,443 unreachable ones (a few hundred kB, kept).
        gc.freeze()
        gc.enable()
        # Compute requests run in workers forked from this warmed process (see api/compute.py).
        await run_in_threadpool(ctx.pool.start, ctx)
        try:
            yield
        finally:
            ctx.pool.close()

    app = FastAPI(
        title="Beijing venue and heritage-site planner",
        description="Sites, layers, road networks and maps for planning venues and heritage sites in Beijing. "
        "Map data © OpenStreetMap contributors (ODbL).",
        version=health.package_version(),
        lifespan=lifespan,
        docs_url=None,  # served below from the vendored Swagger UI: no CDN needed
        redoc_url=None,
    )
    app.state.context = ctx
    install_error_handlers(app)
    # Outermost last: request id and Host check, then CORS, then the body limits.
    app.add_middleware(BodyGuard, max_json_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["authorization", "content-type", "if-match", "x-request-id"],
            expose_headers=["etag", "x-request-id"],
        )
    app.add_middleware(RequestContext, allowed_hosts=settings.allowed_hosts)
    app.include_router(health.router, responses=ERROR_RESPONSES)
    for r in (
        layers.router,
        sites.router,
        routes.router,
        coverage.router,
        footprints.router,
        proposals.router,
        impact.router,
        motorcades.router,
        plans.router,
        maps.router,
        ogc.router,
        transit.router,
        basemap.router,
    ):
        app.include_router(r, dependencies=[Depends(reader)], responses=ERROR_RESPONSES)
    install_openapi(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.get("/", include_in_schema=False, response_model=None)
    def root(request: Request) -> RedirectResponse | JSONResponse:
        # JSON clients (QGIS, OGC API tools) get the OGC API landing page; browsers the maps.
        accept = request.headers.get("accept", "")
        if request.query_params.get("f") == "json" or ("json" in accept and "text/html" not in accept):
            return JSONResponse(ogc.landing(request))
        return RedirectResponse("/maps")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
        )
        # Its one inline script (FastAPI's own, no request data) runs under the page's nonce.
        text = bytes(page.body).decode().replace("<script>", f'<script nonce="{NONCE_TOKEN}">')
        return HTMLResponse(text)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(Path(__file__).parent / "static" / "favicon.svg", media_type="image/svg+xml")

    return app
