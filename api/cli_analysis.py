"""The command line's analyses: the travel-time surface and closure impact (see `api.cli`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.settings import Settings
from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from api.context import Context

__all__ = ["cmd_coverage_surface", "cmd_impact"]


def _context(settings: Settings) -> Context:
    from api.context import Context

    return Context.from_settings(settings)


def cmd_coverage_surface(args: argparse.Namespace, settings: Settings) -> int:
    """Write the travel-time GeoTIFF to the nearest of some sites."""
    ctx = _context(settings)
    body = ctx.coverage.surface_tif(list(args.site), mode=args.mode, limit_min=args.limit_min)
    Path(args.output).write_bytes(body)
    print(
        f"wrote {args.output} ({len(body) / 1e6:.1f} MB): {args.mode} minutes to the nearest of {', '.join(args.site)}"
    )
    return 0


def _read_plans(path: Path) -> list[Any]:
    """Return the plans of a GeoJSON file (one plan Feature, or a FeatureCollection of them)."""
    from api.schemas import PlanIn
    from layers.plans import feature_to_body

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{path} is not readable GeoJSON: {exc}") from exc
    feats = doc.get("features") if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" else [doc]
    if not isinstance(feats, list) or not feats:
        raise InvalidInputError(f"{path} holds no plan (a Feature or a FeatureCollection of plan Features).")
    plans = []
    for i, f in enumerate(feats):
        pid, body = feature_to_body(f, f"{path.name} feature {i}")
        try:
            plan = PlanIn.from_saved(body).to_plan()
        except ValueError as exc:
            raise InvalidInputError(f"{path.name} feature {i}: {exc}") from exc
        if not plan.name:
            plan = dataclasses.replace(plan, name=pid or f"{path.stem} {i + 1}")
        plans.append(plan)
    return plans


def _by_mode(s: dict[str, Any]) -> str:
    """Return the person-hours by mode as text."""
    return ", ".join(f"{m} {v:,.0f}" for m, v in s.get("person_hours_by_mode", {}).items())


def cmd_impact(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate closure plans from GeoJSON files and print what each costs (and their ranking)."""
    from tqdm import tqdm

    from api.convert import impact_members, query_travel, township_features
    from api.schemas import IMPACT_ATTRIBUTION
    from layers.registry import export_vector

    travel = query_travel(args.modes, args.profile, args.trips_per_person, args.mode)
    plans = [p for f in args.plan for p in _read_plans(Path(f))]
    if args.output and len(plans) != 1:
        raise InvalidInputError(f"-o writes one plan's townships; the files hold {len(plans)} plans.")
    ctx = _context(settings)
    results = []
    with tqdm(total=len(plans) + 1, desc="impact", unit="step", disable=args.quiet, file=sys.stderr) as bar:
        bar.set_postfix_str("loading the network (first use builds it)")
        net = ctx.impact.network("drive", args.network)
        ctx.routing.engine(net)
        ctx.impact.towns(net)
        bar.update(1)
        for plan in plans:
            bar.set_postfix_str(plan.name[:30])
            results.append(ctx.impact.evaluate(plan, travel=travel, network=args.network))
            bar.update(1)
    order = sorted(range(len(results)), key=lambda i: results[i].figures.cost_hours)
    for rank, i in enumerate(order):
        r = results[i]
        s = r.summary()
        print(
            f"{rank + 1}. {r.plan.name}: cost {s['cost_person_hours']:,.0f} person-hours: "
            f"{s['person_hours_lost']:,.0f} lost on the day ({_by_mode(s)}), "
            f"{s['people_cut_off']:,.0f} people cut off, {s['townships_delayed']} of {s['townships_assessed']} "
            f"townships delayed, {s['townships_with_longer_walk_to_subway']} with a longer walk to the subway "
            f"({r.network.name}, {r.mode})"
        )
        for a in r.sites:
            if a.mean_before_s is not None and a.mean_after_s is not None:
                print(
                    f"     access to {a.label}: {a.mean_before_s / 60:.1f} -> {a.mean_after_s / 60:.1f} min "
                    f"(people-weighted), {a.people_cut_off:,.0f} people cut off"
                )
        worst = sorted(r.townships, key=lambda t: -t.mean_delay_s)[:5]
        for t in worst:
            if t.mean_delay_s > 0:
                print(f"     {t.district} {t.township}: mean +{t.mean_delay_s:.0f} s, p90 +{t.p90_delay_s:.0f} s")
    for w in dict.fromkeys(w for r in results for w in r.warnings):
        print(f"note: {w}")
    if args.output:
        out = Path(args.output)
        fmt = "gpkg" if out.suffix.lower() == ".gpkg" else "geojson"
        feats = township_features(ctx.coverage, results[0])
        import geopandas as gpd

        gdf = gpd.GeoDataFrame([p for _, p in feats], geometry=[g for g, _ in feats], crs="EPSG:4326")
        summary = json.dumps(impact_members(results[0])["summary"], ensure_ascii=False)
        export_vector(gdf, out, fmt=fmt, layer="impact", attribution=f"{IMPACT_ATTRIBUTION} | {summary[:2000]}")
        print(f"wrote {out} ({len(gdf)} townships)")
    return 0


def cmd_closure_cost(args: argparse.Namespace, settings: Settings) -> int:
    """Write the closure-cost atlas (every drive link's car flow and what holding it costs) for one hour."""
    from tqdm import tqdm

    from api.convert import query_travel
    from api.schemas import IMPACT_ATTRIBUTION
    from layers.atlas import atlas_features, closure_atlas
    from layers.registry import export_vector

    if not 0 <= args.hour <= 23:
        raise InvalidInputError(f"--hour must be 0 to 23; got {args.hour}.")
    if not 0 < args.minutes <= 1440:
        raise InvalidInputError(f"--minutes must be more than 0 and at most 1440; got {args.minutes}.")
    travel = query_travel(args.modes, args.profile, args.trips_per_person, None)
    ctx = _context(settings)
    with tqdm(total=4, desc="closure cost", unit="step", disable=args.quiet, file=sys.stderr) as bar:
        bar.set_postfix_str("the network and its townships")
        net = ctx.impact.network("drive", args.network)
        engine = ctx.routing.engine(net)
        towns = ctx.impact.towns(net)
        bar.update(1)
        bar.set_postfix_str("fastest-route trees")
        ctx.impact.event.trees(net, engine, towns)
        bar.update(1)
        bar.set_postfix_str("the way round every link")
        ctx.impact.event.link_detours(net, engine)
        bar.update(1)
        bar.set_postfix_str("flows and costs")
        atlas = closure_atlas(ctx.impact.event, net, towns, travel, hour=args.hour, minutes=args.minutes)
        feats = atlas_features(ctx.impact.event, net, atlas)
        bar.update(1)
    total = sum(p["cost_person_hours"] for _, p in feats)
    print(
        f"{len(feats):,} links carry car trips at {args.hour:02d}:00 on {net.name}; holding one for "
        f"{args.minutes:g} min costs {total / max(len(feats), 1):,.1f} person-hours on average. The costliest:"
    )
    for _, p in feats[:10]:
        print(
            f"  {p['street'] or p['road_class']}: {p['flow_veh_h']:,.0f} cars/h, "
            f"{p['cost_person_hours']:,.1f} person-hours ({p['choice']})"
        )
    if args.output:
        import geopandas as gpd

        out = Path(args.output)
        gdf = gpd.GeoDataFrame([p for _, p in feats], geometry=[g for g, _ in feats], crs="EPSG:4326")
        fmt = "gpkg" if out.suffix.lower() == ".gpkg" else "geojson"
        export_vector(gdf, out, fmt=fmt, layer="closure-cost", attribution=IMPACT_ATTRIBUTION)
        print(f"wrote {out} ({len(gdf):,} links)")
    return 0
