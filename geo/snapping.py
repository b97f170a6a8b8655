"""Snap points to the nearest edge of a road graph (not just the nearest node)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from geo.crs import lonlat_to_utm, point_to_lonlat, point_to_utm, utm_to_lonlat
from geo.errors import OutsideCoverageError

if TYPE_CHECKING:
    import networkx as nx
    from numpy.typing import NDArray

__all__ = ["EdgeIndex", "Snap", "build_edge_index", "edge_arrays", "edge_index_from_arrays", "snap_area"]


@dataclass(frozen=True)
class Snap:
    """Where a point meets the network.

    Attributes
    ----------
    u, v, key
        The edge.
    distance_m
        Distance from the query point to the edge, metres.
    fraction
        Position along the edge from ``u`` (0) to ``v`` (1), by length.
    lon, lat
        The snapped point in WGS84.
    others
        Further edges as near to the point (within `TIE_M`) as this one, each as
        ``(u, v, key, fraction)``: a point on a junction meets every edge there, and a
        route may leave along any of them (as Valhalla and OSRM consider every candidate).
    """

    u: int
    v: int
    key: int
    distance_m: float
    fraction: float
    lon: float
    lat: float
    others: tuple[tuple[int, int, int, float], ...] = ()

    def candidates(self) -> list[tuple[int, int, int, float]]:
        """Return every edge the point meets as ``(u, v, key, fraction)``, this one first."""
        return [(self.u, self.v, self.key, self.fraction), *self.others]


TIE_M = 1.0  # edges this much farther than the nearest are still candidates
NEAR_M = 150.0  # the fast path of `EdgeIndex.snap` looks this far (9 in 10 random points in central Beijing lie nearer a road)


@dataclass(frozen=True)
class EdgeIndex:
    """A spatial index over a graph's edges in UTM 50N."""

    edges: NDArray[np.int64]  # (n, 3): u, v, key
    geoms: NDArray[np.object_]  # shapely LineStrings in UTM
    tree: shapely.STRtree

    def snap(self, lon: float, lat: float, *, max_distance_m: float, label: str = "point") -> Snap:
        """Return the nearest edge to a WGS84 point.

        Parameters
        ----------
        lon, lat
            The point, WGS84 degrees.
        max_distance_m
            Farther than this from every edge is an error, not a silent jump.
        label
            How the point is named in the error message.
        """
        x, y = point_to_utm(lon, lat, name=label)
        pt = shapely.Point(x, y)
        # Fast path: the edges whose boxes meet a square around the point. Every edge within
        # `NEAR_M` of the point is among them, so when the nearest lies within
        # `NEAR_M - TIE_M` the nearest and its ties are exactly those of the whole index.
        near = self.tree.query(shapely.box(x - NEAR_M, y - NEAR_M, x + NEAR_M, y + NEAR_M))
        if len(near):
            near.sort()
            dists = shapely.distance(self.geoms[near], pt)
            best = int(dists.argmin())
            dist = float(dists[best])
            if dist <= min(NEAR_M - TIE_M, max_distance_m):
                ties = near[dists <= dist + TIE_M]
                fracs = shapely.line_locate_point(self.geoms[ties], pt, normalized=True).tolist()
                i = int(near[best])
                others = []
                for j, (u, v, k), f in zip(ties.tolist(), self.edges[ties].tolist(), fracs, strict=True):
                    if j == i:
                        frac = f
                    else:
                        others.append((u, v, k, f))
                return self._snap(i, pt, dist, frac, tuple(sorted(others)))
        idx, dist_a = self.tree.query_nearest(pt, return_distance=True, all_matches=False)
        if len(idx) == 0 or float(dist_a[0]) > max_distance_m:
            d = float(dist_a[0]) if len(dist_a) else float("inf")
            raise OutsideCoverageError(
                f"{label} ({lat:.5f} N, {lon:.5f} E) is {d:.0f} m from the nearest road of the network; "
                f"the limit is {max_distance_m:.0f} m. Choose a point nearer a road or raise the limit."
            )
        i = int(idx[0])
        frac = float(shapely.line_locate_point(self.geoms[i], pt, normalized=True))
        return self._snap(i, pt, float(dist_a[0]), frac, self._ties(pt, i, float(dist_a[0])))

    def _snap(
        self, i: int, pt: shapely.Point, dist: float, frac: float, others: tuple[tuple[int, int, int, float], ...]
    ) -> Snap:
        on = shapely.line_interpolate_point(self.geoms[i], frac, normalized=True)
        slon, slat = point_to_lonlat(on.x, on.y)
        u, v, k = (int(t) for t in self.edges[i])
        return Snap(u, v, k, dist, frac, slon, slat, others)

    def _ties(self, pt: shapely.Point, nearest: int, dist: float) -> tuple[tuple[int, int, int, float], ...]:
        """Return the other edges within `TIE_M` of the nearest distance, with the point's fraction on each."""
        near = self.tree.query(pt, predicate="dwithin", distance=dist + TIE_M)
        out = []
        for j in near.tolist():
            if j == nearest:
                continue
            g = self.geoms[j]
            if float(shapely.distance(g, pt)) <= dist + TIE_M:
                u, v, k = (int(t) for t in self.edges[j])
                out.append((u, v, k, float(shapely.line_locate_point(g, pt, normalized=True))))
        return tuple(sorted(out))


def build_edge_index(graph: nx.MultiDiGraph) -> EdgeIndex:
    """Return a spatial index over every edge of an osmnx graph (WGS84 node x/y).

    Edges without a ``geometry`` attribute are the straight line between their nodes.
    Each undirected pair of edges (u, v) and (v, u) is indexed once per direction.
    """
    return edge_index_from_arrays(*edge_arrays(graph))


def edge_arrays(graph: nx.MultiDiGraph) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Return what an edge index is built from: (u, v, key) rows, their lines' UTM vertices, vertices per line."""
    xs = dict(graph.nodes(data="x"))
    ys = dict(graph.nodes(data="y"))
    edges: list[tuple[int, int, int]] = []
    coords: list[NDArray[np.float64]] = []
    for u, v, k, data in graph.edges(keys=True, data=True):
        geom = data.get("geometry")
        arr = np.asarray(geom.coords) if geom is not None else np.array([[xs[u], ys[u]], [xs[v], ys[v]]])
        edges.append((u, v, k))
        coords.append(arr)
    if not coords:
        return np.empty((0, 3), dtype=np.int64), np.empty((0, 2)), np.empty(0, dtype=np.int64)
    flat = np.vstack(coords)
    x, y = lonlat_to_utm(flat[:, 0], flat[:, 1], name="graph")
    counts = np.array([len(c) for c in coords], dtype=np.int64)
    return np.array(edges, dtype=np.int64), np.column_stack([x, y]), counts


def edge_index_from_arrays(edges: NDArray[np.int64], xy: NDArray[np.float64], counts: NDArray[np.int64]) -> EdgeIndex:
    """Return the edge index of `edge_arrays`' output (cheap: what a warm start does)."""
    if len(edges) == 0:
        return EdgeIndex(np.empty((0, 3), dtype=np.int64), np.empty(0, dtype=object), shapely.STRtree([]))
    geoms = shapely.linestrings(xy, indices=np.repeat(np.arange(len(counts)), counts))
    return EdgeIndex(edges, np.asarray(geoms, dtype=object), shapely.STRtree(geoms))


def snap_area(
    index: EdgeIndex,
    boundary_utm: shapely.Geometry,
    centre_lonlat: tuple[float, float],
    *,
    max_distance_m: float,
    label: str,
) -> Snap:
    """Return the access point of an area: the edge point nearest its centre among edges near it.

    A large site (a palace, a park) has its centre far from any road; what matters for
    access is the road along its boundary. Edges within ``max_distance_m`` of the
    boundary are candidates, and the one nearest the centre wins. ``distance_m`` of the
    result is the distance from the boundary (0 when the edge touches or enters it).

    Parameters
    ----------
    index
        The network's edge index.
    boundary_utm
        The area's polygon in UTM 50N.
    centre_lonlat
        The area's centre, WGS84.
    max_distance_m
        Edges farther than this from the boundary are not candidates.
    label
        How the area is named in the error message.
    """
    lon, lat = centre_lonlat
    cands = index.tree.query(boundary_utm, predicate="dwithin", distance=max_distance_m)
    if len(cands) == 0:
        raise OutsideCoverageError(
            f"{label} has no road of the network within {max_distance_m:.0f} m of its boundary; "
            "import an OSM extract that covers it."
        )
    x, y = lonlat_to_utm([lon], [lat], name=label)
    centre = shapely.Point(float(x[0]), float(y[0]))
    d_centre = shapely.distance(index.geoms[cands], centre)
    i = int(cands[int(np.argmin(d_centre))])
    geom = index.geoms[i]
    frac = float(shapely.line_locate_point(geom, centre, normalized=True))
    on = shapely.line_interpolate_point(geom, frac, normalized=True)
    slon, slat = utm_to_lonlat([on.x], [on.y])
    u, v, k = (int(t) for t in index.edges[i])
    return Snap(u, v, k, float(shapely.distance(geom, boundary_utm)), frac, float(slon[0]), float(slat[0]))
