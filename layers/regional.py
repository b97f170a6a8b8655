"""The regional network: the major-road skeleton of the whole municipality, joined to the detailed roads.

The skeleton (seeds/beijing_highway_skeleton.geojson, from raw item 8) is the only road data
for the Grand Canal in Tongzhou, Yanqi Lake, Daxing Airport and Yanqing. This module reads
it, checks it against the detailed 2013 network where they overlap, calibrates its travel
times on the detailed network (`calibrate`, run by the seed build, which writes
seeds/regional_calibration.json) and builds the joined drive graph the `regional` network
serves (`regional_graph`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.crs import distance_m, lonlat_to_utm
from geo.errors import DataSourceError, NoRouteError, OutsideCoverageError
from geo.regional import Calibration, Skeleton, fit_calibration, join_networks

if TYPE_CHECKING:
    import networkx as nx
    from numpy.typing import NDArray

    from geo.routing import RoutingEngine
    from geo.snapping import Snap
    from layers.networks import RoadNetwork

__all__ = [
    "INNER_MARGIN_M",
    "MAX_MEDIAN_OVERLAP_M",
    "REGIONAL_NETWORK",
    "Overlap",
    "calibrate",
    "overlap",
    "precision_note",
    "read_calibration",
    "read_skeleton",
    "regional_graph",
    "write_skeleton",
]

log = logging.getLogger(__name__)

REGIONAL_NETWORK = "beijing-regional"
# Skeleton nodes more than this inside the detailed network's outline join it; nearer the
# outline the detailed roads are cut by the end of their data.
INNER_MARGIN_M = 1000.0
# The seed build fails when the skeleton's nodes lie farther than this (median) from the detailed roads.
MAX_MEDIAN_OVERLAP_M = 50.0
# A skeleton node joins the detailed nodes within this distance (the skeleton is rounded to about 100 m).
LINK_RADIUS_M = 300.0
LINKS_PER_NODE = 4
POSITION_PRECISION_M = 100.0


def read_skeleton(path: Path) -> Skeleton:
    """Read the skeleton from GeoJSON: 2-point LineStrings with ``u``, ``v`` and ``length_km`` or ``length_m``.

    Duplicate undirected edges keep the shortest; zero-length and self-loop edges are dropped.

    Parameters
    ----------
    path
        The GeoJSON file.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        feats = data["features"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataSourceError(f"{path} is not a GeoJSON FeatureCollection: {exc}") from exc
    pos: dict[int, tuple[float, float]] = {}
    best: dict[tuple[int, int], float] = {}
    for i, f in enumerate(feats):
        try:
            p = f["properties"]
            c = f["geometry"]["coordinates"]
            u, v = int(p["u"]), int(p["v"])
            length = float(p["length_m"]) if "length_m" in p else float(p["length_km"]) * 1000.0
            a, b = (float(c[0][0]), float(c[0][1])), (float(c[-1][0]), float(c[-1][1]))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DataSourceError(
                f"{path}: feature {i} is not a skeleton edge (u, v, length, 2-point line): {exc}"
            ) from exc
        if f["geometry"].get("type") != "LineString" or not all(np.isfinite([*a, *b, length])):
            raise DataSourceError(f"{path}: feature {i} must be a LineString with finite coordinates and length.")
        for node, xy in ((u, a), (v, b)):
            if node in pos and pos[node] != xy:
                raise DataSourceError(f"{path}: node {node} has two positions, {pos[node]} and {xy}.")
            pos[node] = xy
        if u == v or length <= 0:
            continue
        key = (min(u, v), max(u, v))
        best[key] = min(best.get(key, np.inf), length)
    ids = np.array(sorted(pos), dtype=np.int64)
    row = {int(n): i for i, n in enumerate(ids.tolist())}
    keys = sorted(best)
    lonlat = np.array([pos[int(n)] for n in ids.tolist()], dtype=float).reshape(-1, 2)
    return Skeleton(
        ids,
        lonlat[:, 0],
        lonlat[:, 1],
        np.array([row[a] for a, _ in keys], dtype=np.int64),
        np.array([row[b] for _, b in keys], dtype=np.int64),
        np.array([best[k] for k in keys], dtype=float),
    )


def write_skeleton(skeleton: Skeleton, path: Path, *, provenance: dict[str, Any]) -> None:
    """Write the skeleton as GeoJSON (one feature per undirected edge, ``u``, ``v``, ``length_m``).

    Parameters
    ----------
    skeleton
        The major-road skeleton (raw item 8).
    path
        The GeoJSON file to write.
    provenance
        Source, licence and date, written into the file.
    """
    feats = [
        {
            "type": "Feature",
            "properties": {
                "u": int(skeleton.node_ids[a]),
                "v": int(skeleton.node_ids[b]),
                "length_m": round(float(c), 1),
            },
            "geometry": {
                "type": "LineString",
                "coordinates": [
                    [round(float(skeleton.lon[a]), 6), round(float(skeleton.lat[a]), 6)],
                    [round(float(skeleton.lon[b]), 6), round(float(skeleton.lat[b]), 6)],
                ],
            },
        }
        for a, b, c in zip(skeleton.u.tolist(), skeleton.v.tolist(), skeleton.chord_m.tolist(), strict=True)
    ]
    doc = {"type": "FeatureCollection", "provenance": provenance, "features": feats}
    Path(path).write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def read_calibration(path: Path) -> Calibration:
    """Read seeds/regional_calibration.json.

    Parameters
    ----------
    path
        The calibration file.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataSourceError(f"the regional calibration {path} is unreadable: {exc}") from exc
    return Calibration.from_json(data)


@dataclass(frozen=True)
class Overlap:
    """Where the skeleton meets the detailed network."""

    inside: NDArray[np.bool_]  # skeleton nodes inside the detailed network's extent
    inner: NDArray[np.bool_]  # ... and more than INNER_MARGIN_M inside its outline
    distance_m: NDArray[np.float64]  # to the nearest detailed road (nan outside)

    def summary(self) -> dict[str, Any]:
        """Return the counts and distances as a JSON-ready dict."""
        d = self.distance_m[self.inside]
        return {
            "skeleton_nodes_inside_detailed_extent": int(self.inside.sum()),
            "median_distance_to_detailed_road_m": round(float(np.median(d)), 1) if len(d) else None,
            "p90_distance_to_detailed_road_m": round(float(np.quantile(d, 0.9)), 1) if len(d) else None,
        }


def overlap(skeleton: Skeleton, net: RoadNetwork) -> Overlap:
    """Return which skeleton nodes lie inside the detailed network, and how far each is from its roads.

    Parameters
    ----------
    skeleton
        The major-road skeleton (raw item 8).
    net
        The detailed drive network.
    """
    x, y = lonlat_to_utm(skeleton.lon, skeleton.lat, name="regional skeleton")
    pts = shapely.points(x, y)
    ring = np.asarray(net.extent.exterior.coords)
    rx, ry = lonlat_to_utm(ring[:, 0], ring[:, 1], name="extent")
    extent = shapely.Polygon(np.column_stack([rx, ry]))
    inside = np.asarray(shapely.contains(extent, pts))
    inner = np.asarray(shapely.contains(extent.buffer(-INNER_MARGIN_M), pts))
    dist = np.full(len(x), np.nan)
    if inside.any():
        _, d = net.edge_index.tree.query_nearest(pts[inside], return_distance=True, all_matches=False)
        dist[inside] = d
    return Overlap(inside, inner, dist)


def calibrate(
    skeleton: Skeleton,
    net: RoadNetwork,
    engine: RoutingEngine,
    *,
    trips: int = 1000,
    holdout_share: float = 0.3,
    min_km: float = 3.0,
    max_km: float = 25.0,
    seed: int = 20130,
) -> Calibration:
    """Fit the skeleton's speeds on trips between its nodes routed on the detailed network.

    ``trips`` random pairs of skeleton nodes inside the detailed network (more than
    `INNER_MARGIN_M` inside its outline, within 100 m of a road), ``min_km`` to ``max_km``
    apart, are routed on both; ``holdout_share`` of them are kept out of the fit to measure
    its error (reported in ``fit``).

    Parameters
    ----------
    skeleton
        The major-road skeleton (raw item 8).
    net
        The detailed drive network.
    engine
        Its routing engine.
    trips
        Trips to fit on, as detailed-network node pairs.
    holdout_share
        Share of trips kept out of the fit to check it.
    min_km
        Shortest straight-line trip used, km.
    max_km
        Longest straight-line trip used, km.
    seed
        Seed of the trip sample.
    """
    ov = overlap(skeleton, net)
    snaps: dict[int, Snap] = {}
    for r in np.flatnonzero(ov.inner).tolist():
        try:
            snaps[r] = net.edge_index.snap(float(skeleton.lon[r]), float(skeleton.lat[r]), max_distance_m=100.0)
        except OutsideCoverageError:
            continue
    rows = np.array(sorted(snaps), dtype=np.int64)
    if len(rows) < 10:
        raise DataSourceError(f"only {len(rows)} skeleton nodes lie on the detailed network; at least 10 are needed.")
    rng = np.random.default_rng(seed)
    src: list[int] = []
    dst: list[int] = []
    t_d: list[float] = []
    l_d: list[float] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(trips * 50):
        if len(src) >= trips:
            break
        a, b = (int(r) for r in rng.choice(rows, 2, replace=False))
        d = float(distance_m(skeleton.lon[a], skeleton.lat[a], skeleton.lon[b], skeleton.lat[b]))
        if not (min_km * 1000 <= d <= max_km * 1000) or (a, b) in seen or snaps[a] == snaps[b]:
            continue
        seen.add((a, b))
        try:
            route = engine.route(snaps[a], snaps[b], metric="fastest")
        except NoRouteError:
            continue
        src.append(a)
        dst.append(b)
        t_d.append(route.travel_time_s)
        l_d.append(route.length_m)
    holdout = rng.random(len(src)) < holdout_share
    cal = fit_calibration(
        skeleton,
        np.array(src, dtype=np.int64),
        np.array(dst, dtype=np.int64),
        np.array(t_d),
        np.array(l_d),
        holdout=holdout,
    )
    fit = dict(cal.fit) | {"trip_km": [min_km, max_km], "seed": seed, "matched_nodes": len(rows)}
    return Calibration(cal.speeds_kph, cal.length_factor, fit)


def regional_graph(skeleton: Skeleton, calibration: Calibration, net: RoadNetwork) -> nx.MultiDiGraph:
    """Return the detailed drive graph of ``net`` joined to the skeleton wherever the detailed roads end.

    Parameters
    ----------
    skeleton
        The major-road skeleton (raw item 8).
    calibration
        The regional skeleton's speed calibration.
    net
        The detailed drive network.
    """
    ov = overlap(skeleton, net)
    g = net.graph
    node_ids = np.array(list(g.nodes), dtype=np.int64)
    nx_, ny_ = lonlat_to_utm(
        np.array([g.nodes[n]["x"] for n in node_ids.tolist()], dtype=float),
        np.array([g.nodes[n]["y"] for n in node_ids.tolist()], dtype=float),
        name="detailed nodes",
    )
    tree = shapely.STRtree(shapely.points(nx_, ny_))
    sx, sy = lonlat_to_utm(skeleton.lon, skeleton.lat, name="regional skeleton")
    links: dict[int, list[tuple[int, float]]] = {}
    for r in np.flatnonzero(ov.inner).tolist():
        near = tree.query(shapely.Point(sx[r], sy[r]), predicate="dwithin", distance=LINK_RADIUS_M)
        if len(near) == 0:
            continue
        d = np.hypot(nx_[near] - sx[r], ny_[near] - sy[r])
        order = np.argsort(d)[:LINKS_PER_NODE]
        links[r] = [(int(node_ids[near[k]]), float(d[k])) for k in order.tolist()]
    joined = join_networks(g, skeleton, calibration, inner=ov.inner, links=links)
    log.info(
        "regional network: %d skeleton nodes joined to the detailed roads, %d nodes, %d edges",
        len(links),
        joined.number_of_nodes(),
        joined.number_of_edges(),
    )
    return joined


def precision_note(calibration: Calibration) -> str:
    """Return the sentence every answer on the regional network carries.

    Parameters
    ----------
    calibration
        The regional skeleton's speed calibration.
    """
    med, p90 = calibration.time_error()
    return (
        "Part of this answer runs on the regional skeleton (major roads only, straight chords between nodes "
        f"rounded to 0.001°, positions ±{POSITION_PRECISION_M:.0f} m, no one-way, turn or class data): "
        f"travel times there are calibrated on the detailed 2013 network, median error {med:.0%} and "
        f"p90 {p90:.0%} on held-out trips. Local streets are not modelled. "
        "Import a current OpenStreetMap extract (`venue-planner networks import FILE`) for street-level answers."
    )
