"""Snap points to the nearest edge of a road graph (not just the nearest node)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import shapely

from geo._kernels import near_segments
from geo.crs import lonlat_to_utm, point_to_lonlat, point_to_utm, utm_to_lonlat
from geo.errors import OutsideCoverageError

if TYPE_CHECKING:
    import networkx as nx
    from numpy.typing import NDArray

__all__ = [
    "EdgeIndex",
    "SegmentGrid",
    "Snap",
    "build_edge_index",
    "edge_arrays",
    "edge_index_from_arrays",
    "index_arrays",
    "segment_grid",
    "snap_area",
]


class Snap(NamedTuple):
    """Where a point meets the network (a named tuple: made for every request, it must be cheap).

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
class SegmentGrid:
    """The straight segments of every edge line, bucketed on a square grid of `NEAR_M` cells.

    A segment is listed in every cell within `NEAR_M` of its bounding box, so a cell's list
    holds every segment within `NEAR_M` of any point in the cell: one look-up finds them,
    and the distances are computed in a compiled loop (`geo._kernels.near_segments`: no
    geometry objects). Segments are numbered cell by cell (of their start), so that a
    cell's segments lie near each other in memory, each in one 64-byte row.
    """

    x0: float  # the grid's lower-left corner, UTM
    y0: float
    width: int  # cells per row
    height: int
    start: NDArray[np.int64]  # (width * height + 1,): where each cell's segments start in `segs`
    segs: NDArray[np.int32]  # segment numbers, cell after cell (ascending within a cell)
    # (segments, 8): start x, y; vector x, y to the end; 1 / length squared (0: a point); length of
    # the edge's line before the segment; length of the whole line; the edge (row of `EdgeIndex.edges`).
    data: NDArray[np.float64]


def segment_grid(xy: NDArray[np.float64], counts: NDArray[np.int64]) -> SegmentGrid:
    """Return the `SegmentGrid` of edge lines (UTM vertices ``xy``, ``counts`` per line).

    Parameters
    ----------
    xy
        Every line's vertices, UTM 50N metres, one line after the other.
    counts
        Vertices per line.
    """
    ends = np.cumsum(counts)
    ok = np.ones(max(len(xy) - 1, 0), dtype=bool)
    ok[ends[:-1] - 1] = False  # no segment joins two lines
    seg = np.flatnonzero(ok)
    ax, ay = xy[seg, 0], xy[seg, 1]
    dx, dy = xy[seg + 1, 0] - ax, xy[seg + 1, 1] - ay
    seg_len = np.hypot(dx, dy)
    line = np.repeat(np.arange(len(counts)), counts)[seg]
    cum = np.cumsum(seg_len)
    line_first = np.searchsorted(line, np.arange(len(counts)))  # each line's first segment
    start_cum = np.concatenate([[0.0], cum])[line_first]
    before = cum - seg_len - start_cum[line]
    total = np.bincount(line, weights=seg_len, minlength=len(counts)).astype(np.float64)
    x0, y0 = float(xy[:, 0].min()) - NEAR_M, float(xy[:, 1].min()) - NEAR_M
    width = int((float(xy[:, 0].max()) + NEAR_M - x0) // NEAR_M) + 1
    height = int((float(xy[:, 1].max()) + NEAR_M - y0) // NEAR_M) + 1
    c0 = ((np.minimum(ax, ax + dx) - NEAR_M - x0) // NEAR_M).astype(np.int64)
    c1 = ((np.maximum(ax, ax + dx) + NEAR_M - x0) // NEAR_M).astype(np.int64)
    r0 = ((np.minimum(ay, ay + dy) - NEAR_M - y0) // NEAR_M).astype(np.int64)
    r1 = ((np.maximum(ay, ay + dy) + NEAR_M - y0) // NEAR_M).astype(np.int64)
    c0, r0 = np.maximum(c0, 0), np.maximum(r0, 0)
    c1, r1 = np.minimum(c1, width - 1), np.minimum(r1, height - 1)
    # Number the segments by the cell of their start point (stable: along the line within a cell).
    home = ((ay - y0) // NEAR_M).astype(np.int64) * width + ((ax - x0) // NEAR_M).astype(np.int64)
    perm = np.argsort(home, kind="stable")
    number = np.empty_like(perm)
    number[perm] = np.arange(len(perm))
    nc, nr = c1 - c0 + 1, r1 - r0 + 1
    n = nc * nr
    owner = np.repeat(np.arange(len(seg)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    cell = (r0[owner] + k // nc[owner]) * width + c0[owner] + k % nc[owner]
    listed = number[owner]
    order = np.lexsort((listed, cell))  # cell after cell, segments ascending within a cell
    start = np.searchsorted(cell[order], np.arange(width * height + 1)).astype(np.int64)
    len2 = seg_len**2
    inv = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0)
    data = np.column_stack([ax, ay, dx, dy, inv, before, total[line], line.astype(np.float64)])[perm]
    return SegmentGrid(x0, y0, width, height, start, listed[order].astype(np.int32), np.ascontiguousarray(data))


@dataclass(frozen=True)
class EdgeIndex:
    """A spatial index over a graph's edges in UTM 50N."""

    edges: NDArray[np.int64]  # (n, 3): u, v, key
    geoms: NDArray[np.object_]  # shapely LineStrings in UTM
    tree: shapely.STRtree
    grid: SegmentGrid | None = None

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
        found = self._near(x, y, max_distance_m)
        if found is not None:
            return found
        pt = shapely.Point(x, y)
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

    def _near(self, x: float, y: float, max_distance_m: float) -> Snap | None:
        """Return the snap of a UTM point from the segment grid, or None when it cannot tell.

        The grid lists every segment within `NEAR_M` of the point; when the nearest lies
        within `NEAR_M - TIE_M` (and ``max_distance_m``), the nearest edge and every edge
        within `TIE_M` of it are among them, exactly as in the whole index.
        """
        g = self.grid
        if g is None:
            return None
        near = near_segments(
            g.start,
            g.segs,
            g.data,
            g.x0,
            g.y0,
            g.width,
            g.height,
            NEAR_M,
            x,
            y,
            min(NEAR_M - TIE_M, max_distance_m),
            TIE_M,
        )
        if near is None:
            return None
        nearest, candidates = near
        # Per edge, its nearest segment (the first along the line among equals): nearest edges first,
        # the lowest edge number among equals.
        found: dict[int, tuple[float, int, float, float, float]] = {}
        for dist, ln, frac, qx, qy in sorted(candidates):
            if dist <= nearest + TIE_M and ln not in found:
                found[ln] = (dist, ln, frac, qx, qy)
        edges = self.edges[list(found)].tolist()
        out = [(dist, ln, *edge, f, qx, qy) for (dist, ln, f, qx, qy), edge in zip(found.values(), edges, strict=True)]
        dist, _, u, v, k, frac, qx, qy = min(out)
        slon, slat = point_to_lonlat(qx, qy)
        others = sorted((u2, v2, k2, f2) for _, _, u2, v2, k2, f2, _, _ in out if (u2, v2, k2) != (u, v, k))
        return Snap(u, v, k, dist, frac, slon, slat, tuple(others))

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

    Parameters
    ----------
    graph
        A road graph (osmnx MultiDiGraph, WGS84 node ``x``/``y``).
    """
    return edge_index_from_arrays(*edge_arrays(graph))


def edge_arrays(graph: nx.MultiDiGraph) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Return what an edge index is built from: (u, v, key) rows, their lines' UTM vertices, vertices per line.

    Parameters
    ----------
    graph
        A road graph (osmnx MultiDiGraph, WGS84 node ``x``/``y``).
    """
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


def index_arrays(
    graph: nx.MultiDiGraph,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64], SegmentGrid | None]:
    """Return what an edge index is made of, to cache: `edge_arrays` and the `segment_grid`.

    Parameters
    ----------
    graph
        A road graph (osmnx MultiDiGraph, WGS84 node ``x``/``y``).
    """
    edges, xy, counts = edge_arrays(graph)
    return edges, xy, counts, segment_grid(xy, counts) if len(edges) else None


def edge_index_from_arrays(
    edges: NDArray[np.int64], xy: NDArray[np.float64], counts: NDArray[np.int64], grid: SegmentGrid | None = None
) -> EdgeIndex:
    """Return the edge index of `edge_arrays`' output (the segment grid built unless given: see `index_arrays`).

    Parameters
    ----------
    edges
        The (u, v, key) of each edge (`edge_arrays`).
    xy
        The edge lines' UTM vertices (`edge_arrays`).
    counts
        Vertices per edge line (`edge_arrays`).
    grid
        The segment grid, when already built (a cache); built when None.
    """
    if len(edges) == 0:
        return EdgeIndex(np.empty((0, 3), dtype=np.int64), np.empty(0, dtype=object), shapely.STRtree([]))
    geoms = shapely.linestrings(xy, indices=np.repeat(np.arange(len(counts)), counts))
    grid = grid if grid is not None else segment_grid(xy, counts)
    return EdgeIndex(edges, np.asarray(geoms, dtype=object), shapely.STRtree(geoms), grid)


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
