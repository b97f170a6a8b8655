"""Benchmarks of coverage on the shipped drive network (prints figures; not tests).

Run with ``make bench`` (or ``.venv/bin/python bench/coverage.py``). For every candidate
site the drive network covers, it measures, next to the way the osmnx examples do it
(networkx ``ego_graph`` by travel time, then a convex hull of the reached nodes, or a
buffer of the reached edges and nodes) in the same run:

- a 15-minute isochrone polygon (snap, Dijkstra, cells, polygon in WGS84);
- four bands (5, 10, 15, 30 minutes) from one search;
- the population inside a 15-minute band (the common way: rasterise the polygon over
  the population raster and sum);
- the travel-time surface over all of central Beijing (the common way: multi-source
  Dijkstra in networkx, then nearest-node interpolation onto the 100 m grid);
- and the brute-force agreement of each band (share of reached nodes inside the
  polygon, share of nodes inside that are not reached).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import networkx as nx
import numpy as np
import shapely
from affine import Affine
from rasterio import features
from record import save
from scipy.interpolate import griddata

from api.context import Context
from api.settings import Settings
from geo import coverage as cov
from geo.crs import lonlat_to_utm
from geo.isochrones import ReachIndex
from geo.tracing import trace_cells
from layers.routing import ResolvedPlace

BANDS = (5.0, 10.0, 15.0, 30.0)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Return (median milliseconds, last result)."""
    out: object = None
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def osmnx_way_hull(graph: nx.MultiDiGraph, node: int, minutes: float) -> shapely.Geometry:
    """Return the osmnx-example isochrone: convex hull of the ego graph's nodes (WGS84)."""
    sub = nx.ego_graph(graph, node, radius=minutes * 60, distance="travel_time_s")
    pts = shapely.points([(d["x"], d["y"]) for _, d in sub.nodes(data=True)])
    return shapely.convex_hull(shapely.multipoints(pts))


def osmnx_way_buffer(graph: nx.MultiDiGraph, node: int, minutes: float) -> shapely.Geometry:
    """Return the osmnx-example 'make_iso_polys': reached edges buffered 25 m and nodes 50 m (UTM)."""
    sub = nx.ego_graph(graph, node, radius=minutes * 60, distance="travel_time_s")
    xy = {n: lonlat_to_utm(np.array([d["x"]]), np.array([d["y"]])) for n, d in sub.nodes(data=True)}
    pts = [shapely.Point(float(x[0]), float(y[0])).buffer(50) for x, y in xy.values()]
    lines = [
        shapely.LineString([(float(xy[u][0][0]), float(xy[u][1][0])), (float(xy[v][0][0]), float(xy[v][1][0]))]).buffer(
            25
        )
        for u, v in sub.edges()
    ]
    return shapely.union_all(pts + lines)


def gdal_polygonize(mask: np.ndarray, transform: Affine) -> shapely.Geometry:
    """Return the True cells as a MultiPolygon traced by GDAL (rasterio.features.shapes)."""
    shapes = features.shapes(mask.view(np.uint8), mask=mask, transform=transform, connectivity=4)
    return shapely.multipolygons([shapely.geometry.shape(g) for g, _ in shapes])


def brute_minutes(ctx: Context, place: ResolvedPlace) -> np.ndarray:
    eng = ctx.routing.engine(place.network)
    best = np.full(len(eng.node_ids), np.inf)
    for node, offset, _, _ in eng._ends(place.snap, "fastest", origin=True):
        dist = nx.single_source_dijkstra_path_length(
            place.network.graph, int(eng.node_ids[node]), weight="travel_time_s"
        )
        for n, d in dist.items():
            i = eng.index[n]
            best[i] = min(best[i], (d + offset) / 60)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ctx = Context.from_settings(Settings())
    t0 = time.perf_counter()
    ctx.coverage.warm("drive")
    warm_s = time.perf_counter() - t0
    sites = []
    for sid in ctx.sites.ids():
        try:
            sites.append(ctx.routing.resolve(sid, mode="drive", label="site"))
        except Exception:
            continue
    people = ctx.coverage.people
    _, pop_tf = ctx.coverage._population
    rows: dict[str, list[float]] = {
        k: [] for k in ("iso15", "bands4", "pop", "hull15", "buf15", "hull4", "poprast", "trace4", "gdal4")
    }
    agree_in: dict[float, list[float]] = {b: [] for b in BANDS}
    agree_out: dict[float, list[float]] = {b: [] for b in BANDS}
    for place in sites:
        index = ctx.coverage.index(place.network)
        graph = place.network.graph
        node = int(place.snap.v)

        def iso15(p: ResolvedPlace = place, index: ReachIndex = index) -> shapely.Geometry:
            return index.reach([p.snap], limit_min=15).band(15).polygon()

        def bands4(p: ResolvedPlace = place, index: ReachIndex = index) -> list[shapely.Geometry]:
            reach = index.reach([p.snap], limit_min=30)
            return [reach.band(b).polygon() for b in BANDS]

        ms, _ = timed(iso15, args.repeat)
        rows["iso15"].append(ms)
        ms, _ = timed(bands4, args.repeat)
        rows["bands4"].append(ms)
        band = index.reach([place.snap], limit_min=15).band(15)
        ms, _ = timed(lambda b=band: cov.population(b, people), args.repeat)
        rows["pop"].append(ms)
        ms, _ = timed(lambda g=graph, n=node: osmnx_way_hull(g, n, 15), args.repeat)
        rows["hull15"].append(ms)
        ms, _ = timed(lambda g=graph, n=node: osmnx_way_buffer(g, n, 15), 1)
        rows["buf15"].append(ms)
        ms, _ = timed(lambda g=graph, n=node: [osmnx_way_hull(g, n, b) for b in BANDS], args.repeat)
        rows["hull4"].append(ms)
        # Tracing the cells of the four bands alone: geo.tracing next to GDAL's polygonizer.
        reach30 = index.reach([place.snap], limit_min=30)
        masks = [(b.mask, index.grid.transform @ Affine.translation(b.col0, b.row0)) for b in map(reach30.band, BANDS)]
        ms, _ = timed(lambda m=masks: [trace_cells(mask, tf) for mask, tf in m], args.repeat)
        rows["trace4"].append(ms)
        ms, _ = timed(lambda m=masks: [gdal_polygonize(mask, tf) for mask, tf in m], args.repeat)
        rows["gdal4"].append(ms)
        poly_utm = band.polygon_utm()

        def rasterise(poly: shapely.Geometry = poly_utm) -> float:
            minx, miny, maxx, maxy = poly.bounds
            col0, row0 = (int(v) for v in ~pop_tf @ (minx, maxy))
            col1, row1 = (int(np.ceil(v)) for v in ~pop_tf @ (maxx, miny))
            win_tf = pop_tf @ pop_tf.translation(col0, row0)
            mask = features.geometry_mask([poly], (row1 - row0, col1 - col0), win_tf, invert=True)
            return float(people[row0:row1, col0:col1][mask].sum())

        ms, _ = timed(rasterise, args.repeat)
        rows["poprast"].append(ms)
        # Agreement with brute force.
        brute = brute_minutes(ctx, place)
        x, y = lonlat_to_utm(index.engine.lon, index.engine.lat)
        reach = index.reach([place.snap], limit_min=30)
        for b in BANDS:
            inside = shapely.contains_xy(reach.band(b).polygon_utm(), x, y)
            reached = brute <= b
            if reached.any():
                agree_in[b].append(float(inside[reached].mean()))
            agree_out[b].append(float((inside & ~reached).sum() / max(inside.sum(), 1)))

    # Travel-time surface over the whole network grid, from five venues.
    five = ["temple-of-heaven", "summer-palace", "lugou-bridge", "olympic-green", "beijing-west-station"]
    t0 = time.perf_counter()
    surface, _, resolved = ctx.coverage.surface(five)
    surface_s = time.perf_counter() - t0
    net = resolved[0].network
    grid = ctx.coverage.index(net).grid
    t0 = time.perf_counter()
    rev = net.graph.reverse(copy=False)
    dist = nx.multi_source_dijkstra_path_length(rev, {int(r.snap.v) for r in resolved}, weight="travel_time_s")
    nodes = list(dist)
    nx_xy = np.array(
        [lonlat_to_utm(np.array([net.graph.nodes[n]["x"]]), np.array([net.graph.nodes[n]["y"]])) for n in nodes]
    )[:, :, 0]
    h, w = grid.height // grid.k, grid.width // grid.k
    gx = grid.x0 + (np.arange(w) + 0.5) * 100
    gy = grid.y0 - (np.arange(h) + 0.5) * 100
    mx, my = np.meshgrid(gx, gy)
    griddata(nx_xy, np.array([dist[n] / 60 for n in nodes]), (mx, my), method="nearest")
    surface_nx_s = time.perf_counter() - t0

    def med(k: str) -> float:
        return statistics.median(rows[k])

    print(f"coverage on the central-Beijing drive network, {len(sites)} sites, median of {args.repeat} runs each")
    print(f"  reach indexes built (drive)                  : {warm_s:.2f} s")
    print(
        f"  15-min isochrone polygon, p50 over sites     : {med('iso15'):.1f} ms   (target <= 50 ms; routing-engine issue: <= 30 ms)"
    )
    print(
        f"    osmnx example (ego_graph + convex hull)    : {med('hull15'):.1f} ms   ratio {med('hull15') / med('iso15'):.1f} x"
    )
    print(
        f"    osmnx example (ego_graph + edge buffers)   : {med('buf15'):.1f} ms   ratio {med('buf15') / med('iso15'):.1f} x"
    )
    print(
        f"  4 bands (5/10/15/30 min), p50 over sites     : {med('bands4'):.1f} ms   (target <= 150 ms; routing-engine issue: <= 80 ms)"
        f"   slowest site {max(rows['bands4']):.1f} ms"
    )
    print(
        f"    osmnx example, 4 ego graphs + hulls        : {med('hull4'):.1f} ms   ratio {med('hull4') / med('bands4'):.1f} x"
    )
    print(
        f"    of which tracing the cells (geo.tracing)   : {med('trace4'):.1f} ms;"
        f" GDAL polygonize {med('gdal4'):.1f} ms   ratio {med('gdal4') / med('trace4'):.1f} x"
    )
    print(f"  population in a 15-min band, p50             : {med('pop'):.2f} ms   (target <= 50 ms)")
    print(
        f"    rasterise polygon over the raster and sum  : {med('poprast'):.2f} ms   ratio {med('poprast') / med('pop'):.1f} x"
    )
    print(
        f"  travel-time surface, central Beijing, 5 sites: {surface_s:.2f} s   (target <= 10 s)   {surface.shape[1]} x {surface.shape[0]} cells"
    )
    print(
        f"    networkx multi-source + nearest-node grid  : {surface_nx_s:.2f} s   ratio {surface_nx_s / surface_s:.1f} x"
    )
    print("  agreement with brute force (networkx Dijkstra) per band, worst site:")
    for b in BANDS:
        print(
            f"    {b:4.0f} min: reached nodes inside >= {min(agree_in[b]):.3f} (need >= 0.97), "
            f"unreached among inside <= {max(agree_out[b]):.3f} (need <= 0.03)"
        )
    figures: dict[str, float] = {"reach_index_warm_s": warm_s, "surface_5_sites_s": surface_s}
    names = {"iso15": "isochrone_15min", "bands4": "bands_4", "pop": "population_15min", "trace4": "trace_4_bands"}
    figures.update({f"{v}_p50_ms": med(k) for k, v in names.items()})
    figures["bands_4_slowest_ms"] = max(rows["bands4"])
    figures["speedup_vs_osmnx_hulls_x"] = med("hull4") / med("bands4")
    for b in BANDS:
        figures[f"agreement_inside_{b:g}min"] = min(agree_in[b])
        figures[f"agreement_outside_{b:g}min"] = max(agree_out[b])
    save("coverage", figures)


if __name__ == "__main__":
    main()
