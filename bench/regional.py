"""Figures of the regional network (issue 14): prints them; not tests.

Run with ``make bench`` (or ``.venv/bin/python bench/regional.py``). It prints:

- the seed calibration (speeds per chord class, length factor, held-out error);
- 200 random trips between skeleton nodes inside the 2013 network (3-25 km apart, a seed
  other than the calibration's): the skeleton's calibrated time against networkx on the
  detailed drive graph (the detailed node nearest each skeleton node), median and p90
  relative difference;
- routes from the airports and stations to the far sites, with their straight-line
  distance, length, time and the share driven on the skeleton;
- the far sites' default bands (15/30/60/90 min): area, people, and the time to compute.
"""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
import shapely
from record import save

from api.context import Context
from api.settings import Settings
from geo.crs import distance_m, lonlat_to_utm
from geo.regional import skeleton_trips
from layers.networks import SEED_NETWORK
from layers.regional import overlap, read_calibration, read_skeleton

FAR = ("grand-canal", "yanqi-lake", "daxing-airport", "yanqing-expo")
ORIGINS = ("capital-airport", "daxing-airport", "beijing-south-station", "forbidden-city")


def trips_against_networkx(ctx: Context, n: int = 200, seed: int = 11) -> None:
    """Print the skeleton's calibrated trip times against networkx on the detailed graph."""
    seeds = ctx.settings.seeds_dir
    sk = read_skeleton(seeds / "beijing_highway_skeleton.geojson")
    cal = read_calibration(seeds / "regional_calibration.json")
    med, p90 = cal.time_error()
    print(
        f"calibration: speeds {cal.speeds_kph} km/h along the chord (<1, 1-3, >=3 km), road = chord x "
        f"{cal.length_factor}; held out {cal.fit['trips_held_out']} trips: median {med:.1%}, p90 {p90:.1%}"
    )
    net = ctx.networks.get(SEED_NETWORK, "drive")
    g = net.graph
    ov = overlap(sk, net)
    nodes = np.array(list(g.nodes))
    x, y = lonlat_to_utm(
        np.array([g.nodes[v]["x"] for v in nodes]), np.array([g.nodes[v]["y"] for v in nodes]), name="nodes"
    )
    tree = shapely.STRtree(shapely.points(x, y))
    sx, sy = lonlat_to_utm(sk.lon, sk.lat, name="skeleton")
    near: dict[int, int] = {}
    for r in np.flatnonzero(ov.inner & (ov.distance_m < 50)).tolist():
        i, d = tree.query_nearest(shapely.Point(sx[r], sy[r]), return_distance=True)
        if d[0] < 100:
            near[r] = int(nodes[int(i[0])])
    rows = np.array(sorted(near))
    rng = np.random.default_rng(seed)
    src: list[int] = []
    dst: list[int] = []
    while len(src) < n:
        a, b = (int(v) for v in rng.choice(rows, 2, replace=False))
        if 3000 <= float(distance_m(sk.lon[a], sk.lat[a], sk.lon[b], sk.lat[b])) <= 25000 and nx.has_path(
            g, near[a], near[b]
        ):
            src.append(a)
            dst.append(b)
    t_sk, _ = skeleton_trips(sk, cal.pace_s_per_m(), np.array(src), np.array(dst))
    t_nx = np.array(
        [nx.shortest_path_length(g, near[a], near[b], weight="travel_time_s") for a, b in zip(src, dst, strict=True)]
    )
    rel = np.abs(t_sk - t_nx) / t_nx
    print(
        f"{n} trips in the overlap, skeleton vs networkx on the 2013 graph: median {np.median(rel):.1%}, "
        f"p90 {np.quantile(rel, 0.9):.1%} (target: median <= 15 %)"
    )


def far_routes(ctx: Context) -> None:
    """Print routes from the airports and stations to the far sites."""
    print(f"{'from':24} {'to':16} {'straight km':>11} {'km':>6} {'min':>6} {'skeleton':>9}")
    for o in ORIGINS:
        for d in FAR:
            if o == d:
                continue
            a_s, b_s = ctx.sites.get(o), ctx.sites.get(d)
            straight = float(distance_m(a_s.lon, a_s.lat, b_s.lon, b_s.lat)) / 1000
            routes, a, _ = ctx.routing.routes(o, d)
            r = routes[0]
            legs = ctx.routing.network_legs(r, a.network)
            share = sum(leg.length_m for leg in legs if leg.regional) / r.length_m
            print(f"{o:24} {d:16} {straight:11.1f} {r.length_m / 1000:6.1f} {r.travel_time_s / 60:6.1f} {share:9.0%}")


def far_bands(ctx: Context) -> dict[str, float]:
    """Print the far sites' default bands and how long they take; return the times."""
    figures = {}
    for sid in FAR:
        t0 = time.perf_counter()
        iso = ctx.coverage.isochrone(sid)
        dt = time.perf_counter() - t0
        figs = ", ".join(
            f"{b.minutes:g} min {b.area_km2:,.0f} km² {b.population / 1e6:.2f} M{' (truncated)' if b.truncated else ''}"
            for b in iso.bands
        )
        print(f"{sid:16} {dt * 1000:7.0f} ms  {figs}")
        figures[f"{sid}_bands_ms"] = dt * 1000
    return figures


def main() -> None:
    """Print every figure."""
    ctx = Context.from_settings(Settings())
    trips_against_networkx(ctx)
    far_routes(ctx)
    ctx.coverage.index(ctx.networks.get("beijing-regional", "drive"))  # built once, as at start-up
    save("regional", far_bands(ctx))


if __name__ == "__main__":
    main()
