"""The ``venue-planner`` command line."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from api.cli_analysis import cmd_closure_cost, cmd_coverage_surface, cmd_impact
from api.cli_db import add_db_commands
from api.cli_motorcade import add_motorcade_command
from api.settings import REPO_ROOT, Settings
from geo.errors import PlannerError

if TYPE_CHECKING:
    from api.context import Context
    from layers.keys import KeyStore

__all__ = ["main"]

DEFAULT_RAW = REPO_ROOT.parent / "shared" / "data" / "raw"


def _context(settings: Settings) -> Context:
    from api.context import Context

    return Context.from_settings(settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the API and map pages."""
    # No cyclic garbage collection during the imports and the warm-up: they allocate
    # millions of objects that live as long as the server, and the collector's passes over
    # them cost more than the loading itself. The app turns it back on, frozen, once warm.
    gc.disable()
    import uvicorn

    from api.app import create_app
    from api.protocol import server_config

    print(f"venue-planner: serving on http://{args.host}:{args.port}  (maps: /maps, API docs: /docs)", flush=True)
    print(
        "venue-planner: the first start builds the road graphs, routing engines and site bands into the cache "
        "(about a minute); later starts load them (seconds).",
        flush=True,
    )
    uvicorn.Server(
        server_config(create_app(settings), host=args.host, port=args.port, access_log=settings.access_log)
    ).run()
    return 0


def cmd_warm(args: argparse.Namespace, settings: Settings) -> int:
    """Build every cache a server start needs (graphs, engines, grids, site bands), then exit."""
    from api.app import warm

    start = time.perf_counter()
    ctx = _context(settings)
    print(f"venue-planner: building the caches in {settings.cache_dir} …", flush=True)
    warm(ctx)
    for net in ctx.networks.loaded():
        g = net.graph
        print(f"  {net.name} ({net.mode}): {g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges")
    print(f"venue-planner: caches ready in {time.perf_counter() - start:.1f} s; `venue-planner serve` now starts warm.")
    return 0


def _keys(settings: Settings) -> KeyStore:
    from api.context import open_database
    from layers.keys import KeyStore

    return KeyStore(open_database(settings) or settings.data_dir / "keys.sqlite")


def cmd_keys_add(args: argparse.Namespace, settings: Settings) -> int:
    """Create an API key; the key alone is printed on the last line (it is stored only hashed)."""
    key = _keys(settings).add(args.name, role=args.role)
    print(f"venue-planner: key {args.name!r} ({args.role}) created; it is shown only now:", file=sys.stderr)
    print(key)
    return 0


def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    """List the keys (names, roles, dates; never the keys)."""
    for k in _keys(settings).list():
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        print(f"{k.name}\t{k.role}\tcreated {k.created_at}\t{state}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a key by name."""
    _keys(settings).revoke(args.name)
    print(f"venue-planner: key {args.name!r} revoked.")
    return 0


def cmd_seeds_basemap(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild the offline basemap from the seed files."""
    from layers.seedbuild.build import rebuild_basemap

    t0 = time.perf_counter()
    entry = rebuild_basemap(Path(args.out or settings.seeds_dir))
    print(f"basemap: {entry['features']}, {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_seeds_build(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild seeds/ from the raw data."""
    from layers.seedbuild import build_seeds

    t0 = time.perf_counter()
    report = build_seeds(Path(args.raw), Path(args.out or settings.seeds_dir))
    reg = report.registration
    print(
        f"road registration: median residual {reg['median_residual_m']:.1f} m, "
        f"p90 {reg['p90_residual_m']:.1f} m over {reg['reference_points_inside_extent']} subway entrances"
    )
    c = report.checks
    print(
        f"population raster sum {c['population_raster_sum']:.0f} vs townships {c['population_townships_sum']:.0f} "
        f"({c['population_relative_difference']:.2e} relative)"
    )
    for name in report.files:
        print(f"  wrote {name}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_layers_list(args: argparse.Namespace, settings: Settings) -> int:
    """List the layers."""
    ctx = _context(settings)
    rows = [s.as_dict() for s in ctx.layers.specs()]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for r in rows:
        print(f"{r['id']:<20} {r['kind']:<8} {r['geometry_type']:<13} {r['crs']:<11} {r['title']}")
    return 0


def cmd_layers_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export a layer."""
    from api.convert import parse_bbox
    from layers.registry import export_vector

    ctx = _context(settings)
    spec = ctx.layers.spec(args.id)
    out = Path(args.output)
    if spec.kind == "raster":
        if args.format != "tif":
            print(f"error: layer {args.id!r} is a raster; use --format tif", file=sys.stderr)
            return 2
        out.write_bytes(ctx.layers.path(args.id).read_bytes())
    else:
        gdf = ctx.layers.query(args.id, bbox=parse_bbox(args.bbox))
        export_vector(gdf, out, fmt=args.format, layer=args.id, attribution=spec.attribution)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def cmd_networks_info(args: argparse.Namespace, settings: Settings) -> int:
    """Describe every network and which sites it covers."""
    from api.convert import access_info

    ctx = _context(settings)
    infos = []
    for src in ctx.networks.sources():
        for mode in args.mode:
            if mode in src.modes:
                infos.append(ctx.networks.get(src.name, mode).info())
    sites = {sid: access_info(ctx.routing, ctx.sites.get(sid)) for sid in ctx.sites.ids()}
    for info in infos:
        info["sites_covered"] = sorted(
            sid for sid, acc in sites.items() for a in acc if a.mode == info["mode"] and a.network == info["name"]
        )
    uncovered = sorted(sid for sid, acc in sites.items() if not any(a.covered for a in acc))
    if args.json:
        print(json.dumps({"networks": infos, "sites_not_covered": uncovered}, indent=2, ensure_ascii=False))
        return 0
    for i in infos:
        print(
            f"{i['name']} [{i['mode']}] ({i['origin']}): {i['nodes']} nodes, {i['edges']} edges, {i['directed_length_km']} km of directed edges"
        )
        print(f"  extent {i['bbox']}  licence: {i['licence']}")
        print(f"  covers {len(i['sites_covered'])} sites: {', '.join(i['sites_covered'])}")
    if uncovered:
        print(f"not covered by any network: {', '.join(uncovered)} (import an OSM extract: networks import FILE)")
    return 0


def cmd_networks_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a user's OSM extract."""
    ctx = _context(settings)
    print(f"importing {args.file} (filtering ways, building drive and walk graphs with osmnx)...", flush=True)
    nets = ctx.networks.import_file(Path(args.file), name=args.name, replace=args.replace)
    for n in nets:
        i = n.info()
        print(f"{i['name']} [{i['mode']}]: {i['nodes']} nodes, {i['edges']} edges, extent {i['bbox']}")
    return 0


def cmd_networks_fetch(args: argparse.Namespace, settings: Settings) -> int:
    """Download a network around a site with osmnx."""
    ctx = _context(settings)
    site = ctx.sites.get(args.site)
    print(f"downloading OpenStreetMap roads within {args.dist_m:.0f} m of {site.name_en} with osmnx...", flush=True)
    nets = ctx.networks.fetch(site.lon, site.lat, name=args.name or f"{site.id}-osm", dist_m=args.dist_m)
    for n in nets:
        i = n.info()
        print(f"{i['name']} [{i['mode']}]: {i['nodes']} nodes, {i['edges']} edges")
    return 0


def cmd_proposals_list(args: argparse.Namespace, settings: Settings) -> int:
    """List saved proposals."""
    ctx = _context(settings)
    rows = ctx.proposals.list(site_id=args.site)
    for p in rows:
        worst = next((c["severity"] for c in p.analysis.get("conflicts", [])), "none")
        print(
            f"{p.id:<14} v{p.version:<3} {p.site_id or '-':<26} {p.analysis.get('area_m2', 0):>10,.0f} m²  {worst:<7} {p.name}"
        )
    print(f"{len(rows)} proposals in the {ctx.proposals.db.describe()}")
    return 0


def cmd_proposals_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export every proposal with its history."""
    from layers.registry import export_vector

    ctx = _context(settings)
    gdf = ctx.proposals.frame(all_versions=not args.latest)
    out = export_vector(
        gdf, Path(args.output), fmt=args.format, layer="proposals", attribution="venue planner proposals"
    )
    print(f"wrote {len(gdf)} versions of {gdf['id'].nunique() if len(gdf) else 0} proposals to {out}")
    return 0


def cmd_proposals_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import an export (all or nothing)."""
    ctx = _context(settings)
    n = ctx.proposals.import_file(Path(args.file))
    print(f"imported {n} versions into the {ctx.proposals.db.describe()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    p = argparse.ArgumentParser(prog="venue-planner", description="Beijing venue and heritage-site planner.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the API and web maps")
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument(
        "--workers",
        type=int,
        default=None,
        help="compute worker processes (default: COMPUTE_WORKERS, 2); forked warm, sharing the cached arrays",
    )
    s.set_defaults(func=cmd_serve)

    w = sub.add_parser("warm", help="build every cache a server start needs, then exit (for images and deploys)")
    w.set_defaults(func=cmd_warm)

    seeds = sub.add_parser("seeds", help="the shipped data").add_subparsers(dest="seeds_cmd", required=True)
    b = seeds.add_parser("build", help="rebuild seeds/ from the raw data")
    b.add_argument("--raw", default=str(DEFAULT_RAW), help=f"raw data folder (default {DEFAULT_RAW})")
    b.add_argument("--out", default=None, help="output folder (default: the seeds folder)")
    b.set_defaults(func=cmd_seeds_build)
    bm = seeds.add_parser("basemap", help="rebuild only the offline basemap (seeds/basemap.pmtiles) from seeds/")
    bm.add_argument("--out", default=None, help="the seeds folder (default: the configured one)")
    bm.set_defaults(func=cmd_seeds_basemap)

    layers = sub.add_parser("layers", help="data layers").add_subparsers(dest="layers_cmd", required=True)
    ll = layers.add_parser("list", help="list the layers")
    ll.add_argument("--json", action="store_true")
    ll.set_defaults(func=cmd_layers_list)
    le = layers.add_parser("export", help="export a layer")
    le.add_argument("id")
    le.add_argument("--format", choices=["geojson", "gpkg", "tif"], default="geojson")
    le.add_argument("-o", "--output", required=True)
    le.add_argument("--bbox", default=None, help="minlon,minlat,maxlon,maxlat")
    le.set_defaults(func=cmd_layers_export)

    nets = sub.add_parser("networks", help="road networks").add_subparsers(dest="networks_cmd", required=True)
    ni = nets.add_parser("info", help="nodes, edges, extent and covered sites of each network")
    ni.add_argument("--mode", nargs="+", choices=["drive", "walk"], default=["drive", "walk"])
    ni.add_argument("--json", action="store_true")
    ni.set_defaults(func=cmd_networks_info)
    nim = nets.add_parser("import", help="add a network from an OSM extract (.osm, .osm.bz2, .osm.pbf)")
    nim.add_argument("file")
    nim.add_argument("--name", default=None)
    nim.add_argument("--replace", action="store_true")
    nim.set_defaults(func=cmd_networks_import)
    nf = nets.add_parser("fetch", help="download a network around a site with osmnx (needs internet)")
    nf.add_argument("--site", required=True)
    nf.add_argument("--name", default=None)
    nf.add_argument("--dist-m", type=float, default=5000.0)
    nf.set_defaults(func=cmd_networks_fetch)

    props = sub.add_parser("proposals", help="saved proposals").add_subparsers(dest="proposals_cmd", required=True)
    pl = props.add_parser("list", help="list the saved proposals")
    pl.add_argument("--site", default=None)
    pl.set_defaults(func=cmd_proposals_list)
    pe = props.add_parser("export", help="export every proposal with its history (a lossless backup)")
    pe.add_argument("--format", choices=["gpkg", "geojson"], default="gpkg")
    pe.add_argument("--latest", action="store_true", help="only the latest version of each")
    pe.add_argument("-o", "--output", required=True)
    pe.set_defaults(func=cmd_proposals_export)
    pi = props.add_parser("import", help="import an export (all or nothing)")
    pi.add_argument("file")
    pi.set_defaults(func=cmd_proposals_import)

    keys = sub.add_parser("keys", help="API keys for writes").add_subparsers(dest="keys_cmd", required=True)
    ka = keys.add_parser("add", help="create a key; it is printed alone on the last line")
    ka.add_argument("name")
    ka.add_argument("--role", choices=["viewer", "editor", "admin"], required=True)
    ka.set_defaults(func=cmd_keys_add)
    keys.add_parser("list", help="list the keys (never the keys themselves)").set_defaults(func=cmd_keys_list)
    kr = keys.add_parser("revoke", help="revoke a key by name")
    kr.add_argument("name")
    kr.set_defaults(func=cmd_keys_revoke)

    add_db_commands(sub)

    cov = sub.add_parser("coverage", help="coverage").add_subparsers(dest="coverage_cmd", required=True)
    cs = cov.add_parser("surface", help="GeoTIFF of minutes to the nearest of the sites (100 m, UTM 50N)")
    cs.add_argument("--site", action="append", required=True, help="a site id or 'lon,lat' (repeatable)")
    cs.add_argument("--mode", choices=["drive", "walk"], default="drive")
    cs.add_argument("--limit-min", type=float, default=180.0)
    cs.add_argument("-o", "--output", required=True)
    cs.set_defaults(func=cmd_coverage_surface)

    im = sub.add_parser("impact", help="what closure plans cost each township (GeoJSON plans, as /plans/export)")
    im.add_argument("plan", nargs="+", help="a GeoJSON file: a plan Feature or a FeatureCollection of plans")
    im.add_argument("--mode", choices=["drive", "walk"], default=None, help="older single-mode choice (car or walk)")
    im.add_argument(
        "--modes",
        default=None,
        help="mode shares 'car:0.4,subway:0.6' (default: Beijing 2019; sources in the manual, Event closures)",
    )
    im.add_argument("--profile", choices=["diurnal", "flat"], default="diurnal", help="when trips leave")
    im.add_argument("--trips-per-person", type=float, default=None, help="trips per resident per day")
    im.add_argument("--network", default=None, help="network name (default: the shipped central network)")
    im.add_argument("-o", "--output", help="write the townships' figures (.geojson or .gpkg; one plan only)")
    im.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    im.set_defaults(func=cmd_impact)
    cc = sub.add_parser("closure-cost", help="the closure-cost atlas: each road link's car flow and the cost of a hold")
    cc.add_argument("--hour", type=int, default=8, help="the hour the holds start, 0-23 (default 8)")
    cc.add_argument("--minutes", type=float, default=2.0, help="how long a hold lasts (default 2)")
    cc.add_argument("--network", default=None, help="drive network name (default: the shipped central network)")
    cc.add_argument("--modes", default=None, help="mode shares 'car:0.4,subway:0.6' (only the car share matters)")
    cc.add_argument("--profile", choices=["diurnal", "flat"], default="diurnal", help="when trips leave")
    cc.add_argument("--trips-per-person", type=float, default=None, help="trips per resident per day")
    cc.add_argument("-o", "--output", help="write the links (.geojson or .gpkg)")
    cc.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    cc.set_defaults(func=cmd_closure_cost)
    add_motorcade_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    overrides = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "workers", None) is not None:
        if args.workers < 0:
            print("error: --workers must be 0 or more.", file=sys.stderr)
            return 1
        overrides["compute_workers"] = args.workers
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for e in exc.errors():
            name = "VENUE_PLANNER_" + "_".join(str(part) for part in e["loc"]).upper()
            print(f"error: setting {name}: {e['msg']} (got {e.get('input')!r}).", file=sys.stderr)
        return 2
    if args.command == "serve":
        args.host, args.port = settings.host, settings.port
    try:
        return int(args.func(args, settings))
    except PlannerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
