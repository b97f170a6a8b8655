"""`venue-planner motorcade`: a convoy's candidate routes, their schedules and costs, from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from api.convert import time_of_day, to_place
from geo.motorcade import CONVOY_VEHICLES, Convoy
from layers.motorcade import DEFAULT_MAX_EXTRA_S, Motorcade, clock, crossing_streets

if TYPE_CHECKING:
    from api.settings import Settings
    from geo.motorcade import Approaches
    from geo.routing import RoutingEngine
    from layers.motorcade import MotorcadeAnswer

__all__ = ["add_motorcade_command"]


def _clock_s(value: str | None, flag: str) -> float | None:
    """Return a time of day given as HH:MM[:SS] as seconds, or None."""
    return None if value is None else time_of_day(value, flag)


def cmd_motorcade(args: argparse.Namespace, settings: Settings) -> int:
    """Print a convoy's candidates (fastest, cheapest for residents, the trade-offs) and the recommended schedule."""
    from tqdm import tqdm

    from api.context import Context
    from api.schemas import IMPACT_ATTRIBUTION

    trip = Motorcade(
        to_place(args.origin),
        to_place(args.destination),
        depart_s=_clock_s(args.depart, "--depart"),
        arrive_by_s=_clock_s(args.arrive_by, "--arrive-by"),
        convoy=Convoy(args.vehicles, args.speed_kph, args.hold_before, args.hold_after),
        wide_weight=args.wide_weight,
        max_extra_s=args.max_extra_minutes * 60.0,
    )
    with tqdm(total=3, desc="motorcade", unit="step", disable=args.quiet, file=sys.stderr) as bar:
        bar.set_postfix_str("loading the networks (first use builds them)")
        ctx = Context.from_settings(settings)
        bar.update(1)
        bar.set_postfix_str("trip flows and fastest-route trees (first use per network)")
        ans = ctx.impact.motorcades.plan(trip, network=args.network)
        bar.update(1)
        bar.set_postfix_str("the schedule")
        rec = ans.candidates[ans.recommended]
        engine = ctx.routing.engine(ans.net)
        app = ctx.impact.motorcades.approaches(ans.net, engine, trip.travel)
        bar.update(1)
    print(
        f"{len(ans.candidates)} candidates on {ans.net.name} (convoy of {trip.convoy.vehicles}, holds {trip.convoy.hold_s:g} s):"
    )
    for i, c in enumerate(ans.candidates):
        mark = "*" if i == ans.recommended else " "
        print(
            f" {mark}{i}. {', '.join(c.kinds):<22} {clock(c.depart_s)} -> {clock(c.arrive_s)}  convoy {c.convoy_time_s / 60:5.1f} min, "
            f"{len(c.holds):3d} crossings held, {c.person_hours:7.1f} person-hours, {c.wide_share:.0%} on wide roads"
        )
    print(f"recommended: {ans.recommended}: {ans.reason}")
    worst = sorted(rec.holds, key=lambda h: -h.person_hours)[:5]
    for h in worst:
        streets = " / ".join(crossing_streets(engine, app.into(h.hold.node))[:3])
        print(f"   {clock(h.hold.start_s)}-{clock(h.hold.end_s)} {streets}: {h.person_hours:.2f} person-hours")
    for w in ans.warnings:
        print(f"note: {w}")
    if args.output:
        _write(Path(args.output), ans, engine, app, IMPACT_ATTRIBUTION)
    return 0


def _write(out: Path, ans: MotorcadeAnswer, engine: RoutingEngine, app: Approaches, attribution: str) -> None:
    """Write the recommended candidate's held crossings (.geojson or .gpkg)."""
    import geopandas as gpd
    import shapely

    from layers.registry import export_vector

    c = ans.candidates[ans.recommended]
    rows = []
    for h in c.holds:
        node = h.hold.node
        rows.append(
            {
                "start": clock(h.hold.start_s),
                "end": clock(h.hold.end_s),
                "hold_s": round(h.hold.seconds, 1),
                "streets": " / ".join(crossing_streets(engine, app.into(node))),
                "persons": round(float(h.persons.sum()), 1),
                "person_hours": round(h.person_hours, 3),
                "geometry": shapely.Point(float(engine.lon[node]), float(engine.lat[node])),
            }
        )
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    fmt = "gpkg" if out.suffix.lower() == ".gpkg" else "geojson"
    export_vector(gdf, out, fmt=fmt, layer="motorcade_crossings", attribution=attribution)
    print(f"wrote {out} ({len(gdf)} held crossings of candidate {ans.recommended})")


def add_motorcade_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``motorcade`` to the command line.

    Parameters
    ----------
    sub
        The top-level subcommands.
    """
    m = sub.add_parser("motorcade", help="a convoy's candidate routes, rolling closure schedules and residents' cost")
    m.add_argument("origin", help="a site id or 'lon,lat'")
    m.add_argument("destination", help="a site id or 'lon,lat'")
    m.add_argument("--depart", default=None, help="departure, HH:MM[:SS] (or --arrive-by)")
    m.add_argument("--arrive-by", default=None, help="arrival, HH:MM[:SS]; with --depart: a deadline")
    m.add_argument("--vehicles", type=int, default=CONVOY_VEHICLES, help=f"convoy vehicles (default {CONVOY_VEHICLES})")
    m.add_argument("--speed-kph", type=float, default=None, help="a steady convoy speed (default: the roads' speeds)")
    m.add_argument("--hold-before", type=float, default=0.0, help="seconds each crossing is held before the convoy")
    m.add_argument("--hold-after", type=float, default=0.0, help="seconds each crossing stays held after it")
    m.add_argument("--wide-weight", type=float, default=0.0, help="extra share of time charged off wide roads")
    m.add_argument(
        "--max-extra-minutes",
        type=float,
        default=DEFAULT_MAX_EXTRA_S / 60,
        help="the recommendation's extra convoy time allowed over the fastest (default 10)",
    )
    m.add_argument("--network", default=None, help="drive network name (default: the one holding both ends)")
    m.add_argument("-o", "--output", help="write the recommended schedule's held crossings (.geojson or .gpkg)")
    m.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    m.set_defaults(func=cmd_motorcade)
