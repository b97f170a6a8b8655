"""Isochrones that follow the road network, on a metric grid.

Every edge of a routing engine is sampled every half cell (UTM 50N). For a request,
Dijkstra (scipy, on the engine's CSR arrays, stopped at the largest band) gives the
travel time to every node; the time at a sample is the time of the edge's tail plus the
edge's time to that sample (or, in reverse, the time from the sample to the edge's head
plus the head's time to the target). Each grid cell takes the smallest time of its
samples, one cell of dilation fills the road's width, and a band is the set of cells
within its time. Polygons are those cells traced (`geo.tracing`, exact cell outlines):
they follow the reachable roads, with holes where nothing is reachable.

The grid is aligned with the 100 m population raster (a cell is 1/k of a population
cell), so population within a band is exact sums over whole cells, with no resampling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import shapely
from affine import Affine
from scipy.sparse.csgraph import dijkstra

from geo.crs import lonlat_to_utm, utm_to_lonlat
from geo.errors import InvalidInputError
from geo.tracing import trace_cell_parts

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from scipy.sparse import csr_matrix

    from geo.routing import Metric, RoutingEngine
    from geo.snapping import Snap

__all__ = [
    "DEFAULT_BANDS_MIN",
    "MAX_BANDS",
    "MAX_METRES",
    "MAX_MINUTES",
    "Band",
    "Grid",
    "Reach",
    "ReachIndex",
    "check_bands",
]

DEFAULT_BANDS_MIN = (5.0, 10.0, 15.0, 30.0)
MAX_MINUTES = 180.0
MAX_METRES = 100_000.0
MAX_BANDS = 8


def check_bands(
    bands: tuple[float, ...] | list[float], *, label: str = "bands_min", unit: str = "minutes"
) -> tuple[float, ...]:
    """Return the bands sorted and unique, or raise a clear error.

    ``unit`` is ``"minutes"`` (travel times, at most `MAX_MINUTES`) or ``"metres"``
    (distances along the network, at most `MAX_METRES`).
    """
    top, what, eg = (MAX_MINUTES, "travel time", "[5, 10, 15, 30]") if unit == "minutes" else (
        MAX_METRES, "distance", "[500, 1000, 2000]")  # fmt: skip
    if len(bands) == 0:
        raise InvalidInputError(f"`{label}` is empty; give one to {MAX_BANDS} {unit}, e.g. {eg}.")
    if len(bands) > MAX_BANDS:
        raise InvalidInputError(f"`{label}` has {len(bands)} bands; at most {MAX_BANDS} are allowed.")
    out = []
    for b in bands:
        t = float(b)
        if not np.isfinite(t) or t <= 0 or t > top:
            raise InvalidInputError(f"`{label}`: {b!r} {unit} is not a {what}; give {unit} in (0, {top:g}].")
        out.append(t)
    return tuple(sorted(set(out)))


@dataclass(frozen=True)
class Grid:
    """A north-up grid in UTM 50N, aligned with a coarser raster (the population's).

    Attributes
    ----------
    x0, y0
        Upper-left corner, metres.
    cell_m
        Cell size, metres.
    width, height
        Size in cells; both multiples of ``k``.
    k
        Cells per side of one coarse (population) cell.
    coarse_offset
        (row, col) of this grid's upper-left coarse cell in the coarse raster.
    """

    x0: float
    y0: float
    cell_m: float
    width: int
    height: int
    k: int
    coarse_offset: tuple[int, int]

    @classmethod
    def covering(
        cls,
        bounds_utm: tuple[float, float, float, float],
        coarse_transform: Affine,
        *,
        k: int,
        margin_m: float = 300.0,
    ) -> Grid:
        """Return the grid of cells ``coarse cell / k`` covering ``bounds_utm`` plus a margin."""
        cs = float(coarse_transform.a)
        ox, oy = float(coarse_transform.c), float(coarse_transform.f)
        minx, miny, maxx, maxy = bounds_utm
        c0 = int(np.floor((minx - margin_m - ox) / cs))
        c1 = int(np.ceil((maxx + margin_m - ox) / cs))
        r0 = int(np.floor((oy - (maxy + margin_m)) / cs))
        r1 = int(np.ceil((oy - (miny - margin_m)) / cs))
        return cls(ox + c0 * cs, oy - r0 * cs, cs / k, (c1 - c0) * k, (r1 - r0) * k, k, (r0, c0))

    @property
    def transform(self) -> Affine:
        """Return the affine transform of the grid."""
        return Affine(self.cell_m, 0.0, self.x0, 0.0, -self.cell_m, self.y0)

    @cached_property
    def _lonlat_fit(self) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """Fit polynomials UTM -> lon, lat over the grid (pyproj costs 0.1 us a point; these 0.01).

        The fit is checked against pyproj on a denser grid and used only when it agrees
        within `_FIT_MAX_ERROR_DEG`.
        """
        w, h = self.width * self.cell_m, self.height * self.cell_m

        def sample(n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            gx, gy = np.meshgrid(np.linspace(0, w, n), np.linspace(0, h, n))
            return self.x0 + gx.ravel(), self.y0 - gy.ravel()

        x, y = sample(40)
        lon, lat = utm_to_lonlat(x, y)
        a = _design((x - self.x0) / max(w, 1.0), (self.y0 - y) / max(h, 1.0)).T
        c_lon = np.linalg.lstsq(a, lon, rcond=None)[0]
        c_lat = np.linalg.lstsq(a, lat, rcond=None)[0]
        x, y = sample(97)
        lon, lat = utm_to_lonlat(x, y)
        a = _design((x - self.x0) / max(w, 1.0), (self.y0 - y) / max(h, 1.0))
        err = max(float(np.abs(c_lon @ a - lon).max()), float(np.abs(c_lat @ a - lat).max()))
        return (
            (np.asarray(c_lon, dtype=np.float64), np.asarray(c_lat, dtype=np.float64))
            if err <= _FIT_MAX_ERROR_DEG
            else None
        )

    def lonlat(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return WGS84 lon, lat of UTM points in the grid (a checked polynomial fit, else pyproj)."""
        fit = self._lonlat_fit
        if fit is None:
            return utm_to_lonlat(x, y)
        w, h = max(self.width * self.cell_m, 1.0), max(self.height * self.cell_m, 1.0)
        a = _design((x - self.x0) / w, (self.y0 - y) / h)
        return fit[0] @ a, fit[1] @ a

    def cell_of(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
        """Return flat cell indices of UTM points (-1 outside the grid)."""
        col = np.floor((x - self.x0) / self.cell_m).astype(np.int64)
        row = np.floor((self.y0 - y) / self.cell_m).astype(np.int64)
        inside = (col >= 0) & (col < self.width) & (row >= 0) & (row < self.height)
        return np.where(inside, row * self.width + col, -1)


@dataclass(frozen=True)
class Reach:
    """Travel minutes over a window of a grid (inf where nothing is reached).

    ``minutes`` covers rows ``row0:row0+h`` and columns ``col0:col0+w`` of ``grid``; the
    window is aligned with whole coarse cells.
    """

    grid: Grid
    row0: int
    col0: int
    minutes: NDArray[np.float32] = field(repr=False)
    roads: NDArray[np.bool_] = field(repr=False)
    limit_min: float
    node_minutes: NDArray[np.float64] = field(repr=False)
    node_xy: NDArray[np.float64] = field(repr=False, default_factory=lambda: np.empty((0, 2)))

    def full(self) -> NDArray[np.float32]:
        """Return the minutes over the whole grid (inf outside the window)."""
        out = np.full((self.grid.height, self.grid.width), np.inf, dtype=np.float32)
        h, w = self.minutes.shape
        out[self.row0 : self.row0 + h, self.col0 : self.col0 + w] = self.minutes
        return out

    def band(self, band_min: float) -> Band:
        """Return the cells within ``band_min`` minutes.

        Cells on reached roads, blocks that reached roads enclose, and the roadless cells
        next to reached roads (a verge of one cell) are in; cells of roads or junctions not
        reached within the band never are.
        """
        if band_min > self.limit_min + 1e-9:
            raise InvalidInputError(
                f"band {band_min:g} min exceeds the {self.limit_min:g} min this reach was computed to."
            )
        band = Band.crop(self.grid, self.row0, self.col0, self.verge_minutes <= band_min, band_min)
        if len(self.node_xy) == 0:
            return band
        # A junction not reached in time in a cell that is in (next to one that is
        # reached, 20 m away) is carved out of the polygon with a 2 m square.
        x, y = self.node_xy[:, 0], self.node_xy[:, 1]
        inside = band.contains(x, y)
        reached = self.node_minutes <= band_min
        return Band(
            band.grid,
            band.row0,
            band.col0,
            band.mask,
            band.minutes,
            carve_out=self.node_xy[inside & ~reached],
        )

    @cached_property
    def verge_minutes(self) -> NDArray[np.float32]:
        """Return the minutes with a verge: a roadless cell takes its edge-neighbours' best time."""
        m = self.minutes
        near = m.copy()
        np.minimum(near[1:], m[:-1], out=near[1:])
        np.minimum(near[:-1], m[1:], out=near[:-1])
        np.minimum(near[:, 1:], m[:, :-1], out=near[:, 1:])
        np.minimum(near[:, :-1], m[:, 1:], out=near[:, :-1])
        return np.where(self.roads, m, near)


@dataclass(frozen=True)
class Band:
    """A set of grid cells (a band of an isochrone, or a union of them).

    ``mask`` covers rows ``row0:row0+h`` and columns ``col0:col0+w`` of ``grid``; the window
    is aligned with whole coarse cells.
    """

    grid: Grid
    row0: int
    col0: int
    mask: NDArray[np.bool_] = field(repr=False)
    minutes: float
    carve_out: NDArray[np.float64] = field(repr=False, default_factory=lambda: np.empty((0, 2)))

    @classmethod
    def crop(cls, grid: Grid, row0: int, col0: int, mask: NDArray[np.bool_], minutes: float) -> Band:
        """Return the band of ``mask`` (placed at row0, col0) cropped to its cells, coarse-aligned."""
        k = grid.k
        if not mask.any():
            return cls(grid, 0, 0, np.zeros((k, k), dtype=bool), minutes)
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        ar0 = (row0 + int(rows[0])) // k * k
        ac0 = (col0 + int(cols[0])) // k * k
        ar1 = -(-(row0 + int(rows[-1]) + 1) // k) * k
        ac1 = -(-(col0 + int(cols[-1]) + 1) // k) * k
        out = np.zeros((ar1 - ar0, ac1 - ac0), dtype=bool)
        # Copy the part of ``mask`` inside the aligned window (which may extend past it).
        sr0, sc0 = max(ar0 - row0, 0), max(ac0 - col0, 0)
        sr1, sc1 = min(ar1 - row0, mask.shape[0]), min(ac1 - col0, mask.shape[1])
        out[row0 + sr0 - ar0 : row0 + sr1 - ar0, col0 + sc0 - ac0 : col0 + sc1 - ac0] = mask[sr0:sr1, sc0:sc1]
        return cls(grid, ar0, ac0, out, minutes)

    @property
    def area_m2(self) -> float:
        """Return the area of the cells, square metres."""
        return float(self.mask.sum()) * self.grid.cell_m**2

    def full(self) -> NDArray[np.bool_]:
        """Return the mask over the whole grid."""
        out = np.zeros((self.grid.height, self.grid.width), dtype=bool)
        h, w = self.mask.shape
        out[self.row0 : self.row0 + h, self.col0 : self.col0 + w] = self.mask
        return out

    def polygon_utm(self) -> shapely.Geometry:
        """Return the cells as a (multi)polygon, UTM 50N (empty if none), junctions carved."""
        geom, part_of_cell = _polygon(self.mask, self.grid, self.row0, self.col0)
        if len(self.carve_out):
            squares, parts = [], []
            for x, y in self.carve_out:
                # The square is inside the polygon when the cells of its four corners are in:
                # the polygon's edges run only between cells that are in and cells that are not.
                for h in (1.0, 0.05):
                    g = h + 0.1  # keep 10 cm from the edges: coordinates are later rounded to ~1 cm
                    cx = np.array([x - g, x + g, x + g, x - g])
                    cy = np.array([y - g, y - g, y + g, y + g])
                    if self.contains(cx, cy).all():
                        squares.append(shapely.box(x - h, y - h, x + h, y + h))
                        # Its corners' cells are in, and they touch: one part holds the square.
                        row, col = np.divmod(int(self.grid.cell_of(np.array([x]), np.array([y]))[0]), self.grid.width)
                        parts.append(int(part_of_cell[row - self.row0, col - self.col0]) - 1)
                        break
            if squares:
                geom = _carve(geom, squares, parts)
        return geom

    def polygon(self, *, tolerance_m: float = 0.0) -> shapely.Geometry:
        """Return the cells as a (multi)polygon, WGS84.

        ``tolerance_m`` > 0 simplifies the outline (for display; the figures stay exact).
        """
        geom = self.polygon_utm()
        if tolerance_m > 0:
            geom = shapely.simplify(geom, tolerance_m, preserve_topology=True)
        return _to_lonlat(geom, self.grid)

    @cached_property
    def _share(self) -> tuple[int, int, NDArray[np.float64]]:
        k = self.grid.k
        h, w = self.mask.shape
        m = self.mask.view(np.uint8).reshape(h // k, k, w // k, k)
        rows = m[:, 0].copy()  # uint8 sums of k*k <= 255 values: k <= 15
        for i in range(1, k):
            rows += m[:, i]
        counts = rows[:, :, 0].copy()
        for j in range(1, k):
            counts += rows[:, :, j]
        share = counts / float(k * k)
        return self.grid.coarse_offset[0] + self.row0 // k, self.grid.coarse_offset[1] + self.col0 // k, share

    def coarse_share(self) -> tuple[int, int, NDArray[np.float64]]:
        """Return (coarse row0, coarse col0, share of each coarse cell in the band)."""
        return self._share

    def contains(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Return which UTM points lie in the band's cells."""
        flat = self.grid.cell_of(x, y)
        row, col = np.divmod(np.maximum(flat, 0), self.grid.width)
        h, w = self.mask.shape
        r, c = row - self.row0, col - self.col0
        ok = (flat >= 0) & (r >= 0) & (r < h) & (c >= 0) & (c < w)
        out = np.zeros(len(x), dtype=bool)
        out[ok] = self.mask[r[ok], c[ok]]
        return out


def _carve(geom: shapely.Geometry, squares: list[shapely.Geometry], parts_of: list[int]) -> shapely.Geometry:
    """Return ``geom`` with small square holes, each added as an interior ring of its part.

    An overlay with a polygon of 100,000 vertices costs tens of milliseconds; adding a
    ring costs nothing. The squares must lie in the interior of ``geom``, square i in
    part ``parts_of[i]`` (see `Band.polygon_utm`, which checks that against the cells);
    squares that overlap become one hole.
    """
    parts = shapely.get_parts(geom)
    sq = np.asarray(squares, dtype=object)
    of = np.asarray(parts_of, dtype=np.intp)
    sb = shapely.bounds(sq)
    overlap = (sb[:, None, 0] < sb[None, :, 2]) & (sb[None, :, 0] < sb[:, None, 2])
    overlap &= (sb[:, None, 1] < sb[None, :, 3]) & (sb[None, :, 1] < sb[:, None, 3])
    if overlap.sum() > len(sq):  # some overlap (besides each with itself): merged, in the part of any of them
        merged = shapely.get_parts(shapely.union_all(sq))
        owner = shapely.STRtree(sq).query(shapely.point_on_surface(merged), predicate="intersects")
        first = np.full(len(merged), -1, dtype=np.intp)
        first[owner[0][::-1]] = owner[1][::-1]
        sq, of = merged, of[first]
    holes: dict[int, list[shapely.Geometry]] = {}
    for ring, j in zip(shapely.get_exterior_ring(sq).tolist(), of.tolist(), strict=True):
        holes.setdefault(j, []).append(ring)
    for j, hs in holes.items():
        rings = shapely.get_rings(parts[j])
        parts[j] = shapely.polygons(rings[0], holes=[*rings[1:], *hs])
    return shapely.multipolygons(parts)


def _polygon(mask: NDArray[np.bool_], grid: Grid, row0: int, col0: int) -> tuple[shapely.Geometry, NDArray[np.int32]]:
    """Trace cells into a (multi)polygon, UTM 50N, with the part of each cell (see `trace_cell_parts`).

    Edge-connected cells trace into valid polygons whose vertices are cell corners, so
    no simplification (which could leave reached junctions outside) is applied.
    """
    return trace_cell_parts(mask, grid.transform @ Affine.translation(col0, row0))


def _to_lonlat(geom: shapely.Geometry, grid: Grid | None = None) -> shapely.Geometry:
    if geom.is_empty:
        return geom

    def fn(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        if grid is not None:
            lon, lat = grid.lonlat(xy[:, 0], xy[:, 1])
        else:
            lon, lat = utm_to_lonlat(xy[:, 0], xy[:, 1])
        return np.asarray(np.round(np.column_stack([lon, lat]), 7), dtype=np.float64)  # about 1 cm

    return shapely.transform(geom, fn)


_FIT_DEGREE = 3
_FIT_MAX_ERROR_DEG = 1e-8  # about 1 mm, far below the 1e-7 degrees the polygons are rounded to


def _design(u: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the monomials u^i v^j (i + j <= degree) as rows (each contiguous), by products (no pow)."""
    up, vp = [np.ones_like(u)], [np.ones_like(v)]
    for _ in range(_FIT_DEGREE):
        up.append(up[-1] * u)
        vp.append(vp[-1] * v)
    out = np.empty(((_FIT_DEGREE + 1) * (_FIT_DEGREE + 2) // 2, len(u)))
    k = 0
    for i in range(_FIT_DEGREE + 1):
        for j in range(_FIT_DEGREE + 1 - i):
            np.multiply(up[i], vp[j], out=out[k])
            k += 1
    return out


class ReachIndex:
    """Samples of every edge of an engine on a grid, ready for isochrones.

    Parameters
    ----------
    engine
        The routing engine of one network.
    grid
        The grid; build it with `Grid.covering` around the network.
    max_fill_m2
        Roadless areas up to this size are filled when reached roads enclose them;
        larger ones (parks, lakes, walled sites) stay holes.
    metric
        ``"fastest"``: costs are seconds and bands minutes. ``"shortest"``: costs are
        metres, and every "minute" of this class is 60 m (``limit_min = metres / 60``).
    """

    def __init__(
        self, engine: RoutingEngine, grid: Grid, *, max_fill_m2: float = 200_000.0, metric: Metric = "fastest"
    ) -> None:
        self.engine = engine
        self.grid = grid
        self.metric: Metric = metric
        m = metric
        self._csr: csr_matrix = engine._csr[m]
        self._csr_t: csr_matrix = self._csr.T.tocsr()
        self._w = self._csr.data.astype(float)
        self._src = engine._src[m]
        self._dst = engine._dst[m]
        lines = engine._coords[m]
        counts = lines.counts()
        allc = np.asarray(lines.flat)
        x, y = lonlat_to_utm(allc[:, 0], allc[:, 1], name="network")
        self.node_x, self.node_y = lonlat_to_utm(engine.lon, engine.lat, name="network")
        self._node_cell = grid.cell_of(self.node_x, self.node_y)
        self._node_xy = np.column_stack([self.node_x, self.node_y])
        # Densify every edge line so that samples are at most half a cell apart.
        step = grid.cell_m / 2.0
        ends = np.cumsum(counts)
        starts = ends - counts
        seg_len = np.hypot(np.diff(x), np.diff(y))
        seg_len[ends[:-1] - 1] = 0.0  # no segment joins consecutive edges
        valid = np.ones(len(x) - 1, dtype=bool)
        valid[ends[:-1] - 1] = False
        seg_row = np.repeat(np.arange(len(lines)), counts)[:-1]
        cum = np.concatenate([[0.0], np.cumsum(seg_len)])
        edge_len = cum[ends - 1] - cum[starts]
        seg_idx = np.flatnonzero(valid)
        n_pts = np.maximum(np.ceil(seg_len[seg_idx] / step).astype(np.int64), 1)
        rep = np.repeat(seg_idx, n_pts)
        within = np.arange(n_pts.sum()) - np.repeat(np.cumsum(n_pts) - n_pts, n_pts)
        t = within / np.repeat(n_pts, n_pts)
        px = x[rep] + t * (x[rep + 1] - x[rep])
        py = y[rep] + t * (y[rep + 1] - y[rep])
        row = seg_row[rep]
        along = cum[rep] - cum[starts[row]] + t * seg_len[rep]
        # Add each edge's last vertex.
        last_x, last_y = x[ends - 1], y[ends - 1]
        px = np.concatenate([px, last_x])
        py = np.concatenate([py, last_y])
        row = np.concatenate([row, np.arange(len(lines))])
        along = np.concatenate([along, edge_len])
        frac = np.where(edge_len[row] > 0, along / np.maximum(edge_len[row], 1e-9), 0.0)
        cells = grid.cell_of(px, py)
        keep = cells >= 0
        self.sample_row = row[keep]
        self.sample_frac = frac[keep]
        self.sample_cell = cells[keep]
        # The time from the tail to the sample, and from the sample to the head.
        w_row = self._w[self.sample_row]
        self._to_sample = self.sample_frac * w_row
        self._from_sample = (1.0 - self.sample_frac) * w_row
        self._tail = self._src[self.sample_row]
        self._head = self._dst[self.sample_row]
        # The samples of each edge row, for the snapped edges.
        self._row_order = np.argsort(self.sample_row, kind="stable")
        self._row_start = np.searchsorted(self.sample_row[self._row_order], np.arange(len(lines) + 1))
        self._build_blocks(max_fill_m2)

    def _build_blocks(self, max_fill_m2: float) -> None:
        """Find the roadless areas (blocks) that a band may fill when roads reached enclose them.

        A block is a 4-connected run of cells without samples. It is filled at the largest
        time of the road cells around it, unless it touches the grid's edge or is larger
        than ``max_fill_m2`` (parks, lakes and walled sites stay holes).
        """
        from scipy import ndimage  # only building an index needs it (0.13 s of imports a warm start skips)

        g = self.grid
        has = np.zeros(g.height * g.width, dtype=bool)
        has[self.sample_cell] = True
        self.has_sample = has.reshape(g.height, g.width)
        labels, n = ndimage.label(~self.has_sample)
        area = np.bincount(labels.ravel(), minlength=n + 1) * g.cell_m**2
        edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        fillable = area <= max_fill_m2
        fillable[0] = False
        fillable[edge] = False
        # Pairs (block, road cell) of 4-neighbours, sorted by block.
        flat = np.arange(g.height * g.width).reshape(g.height, g.width)
        blocks, cells = [], []
        for a, b in (
            (np.s_[:, 1:], np.s_[:, :-1]),
            (np.s_[:, :-1], np.s_[:, 1:]),
            (np.s_[1:, :], np.s_[:-1, :]),
            (np.s_[:-1, :], np.s_[1:, :]),
        ):
            la, hb = labels[a], self.has_sample[b]
            sel = (la > 0) & hb & fillable[la]
            blocks.append(la[sel])
            cells.append(flat[b][sel])
        blk = np.concatenate(blocks)
        order = np.argsort(blk, kind="stable")
        self._pair_block = blk[order]
        self._pair_cell = np.concatenate(cells)[order]
        self._block_starts = (
            np.flatnonzero(np.r_[True, np.diff(self._pair_block) > 0]) if len(blk) else np.empty(0, int)
        )
        self._labels = labels
        self._n_blocks = n

    # What the engine provides is not kept when the index is pickled (see `attach`).
    _FROM_ENGINE = ("engine", "_csr", "_csr_t", "_w", "_src", "_dst", "_rows_of_node")

    def __getstate__(self) -> dict[str, object]:
        """Return the index's own arrays, without the engine (re-attach it with `attach`)."""
        return {k: v for k, v in self.__dict__.items() if k not in self._FROM_ENGINE}

    def attach(self, engine: RoutingEngine) -> ReachIndex:
        """Attach the engine an unpickled index was built on (the same graph) and return the index."""
        m = self.metric
        if int(self.sample_row.max(initial=-1)) >= len(engine._src[m]):
            raise ValueError("this reach index was built on another graph")
        self.engine = engine
        self._csr = engine._csr[m]
        self._csr_t = self._csr.T.tocsr()
        self._w = self._csr.data.astype(float)
        self._src = engine._src[m]
        self._dst = engine._dst[m]
        return self

    @property
    def n_samples(self) -> int:
        """Return how many samples the edges were cut into."""
        return len(self.sample_row)

    def node_seconds(self, snaps: list[Snap], *, limit_s: float, reverse: bool = False) -> NDArray[np.float64]:
        """Return seconds from the nearest snap to every node (to it, if ``reverse``); inf beyond ``limit_s``."""
        best = np.full(len(self.engine.node_ids), np.inf)
        for snap in snaps:
            for node, offset, _, _ in self.engine._ends(snap, self.metric, origin=not reverse):
                if offset > limit_s:
                    continue
                mat = self._csr_t if reverse else self._csr
                dist = dijkstra(mat, indices=node, limit=limit_s - offset)
                np.minimum(best, dist + offset, out=best)
        return best

    def reach(self, snaps: list[Snap], *, limit_min: float, reverse: bool = False) -> Reach:
        """Return the travel minutes from (or, if ``reverse``, to) the nearest of ``snaps``.

        Parameters
        ----------
        snaps
            Points on this engine's graph.
        limit_min
            Stop at this many minutes; farther cells are inf.
        reverse
            Time needed to reach the snaps instead of time from them.
        """
        limit_s = float(limit_min) * 60.0
        node_s = self.node_seconds(snaps, limit_s=limit_s, reverse=reverse)
        reached = np.empty(0, dtype=np.int64) if reverse else np.flatnonzero(np.isfinite(node_s))
        if reverse:
            cost = self._from_sample + node_s[self._head]
        elif 2 * len(reached) > len(node_s):  # most of the network: every sample at once is cheaper
            cost = node_s[self._tail] + self._to_sample
        else:
            # Only the samples on edges leaving a reached node can be reached (besides those
            # on the snapped edges themselves): a 15-minute band touches a third of them.
            cost = np.full(len(self.sample_row), np.inf)
            sel = self._samples_leaving(reached)
            cost[sel] = node_s[self._tail[sel]] + self._to_sample[sel]
        cost = self._snapped_edges(cost, snaps, reverse=reverse)
        hit = cost <= limit_s
        g = self.grid
        if not hit.any():
            empty = np.full((g.k, g.k), np.inf, dtype=np.float32)
            return Reach(g, 0, 0, empty, np.zeros(empty.shape, dtype=bool), float(limit_min), node_s / 60.0)
        cells = self.sample_cell[hit]
        cell_min = np.full(g.height * g.width, np.inf, dtype=np.float32)
        np.minimum.at(cell_min, cells, (cost[hit] / 60.0).astype(np.float32))
        # A cell holding junctions is in a band only when one of its junctions is: a road
        # that merely passes a junction (a slip road, the other carriageway) does not
        # make it reachable. (A reached and an unreached junction in one cell: the cell
        # is in, and `Reach.band` carves the unreached one out.)
        hit_cell = np.zeros(g.height * g.width, dtype=bool)
        hit_cell[cells] = True
        near = (self._node_cell >= 0) & hit_cell[np.maximum(self._node_cell, 0)]
        node_cells = self._node_cell[near]
        uniq, inv = np.unique(node_cells, return_inverse=True)
        node_min = np.full(len(uniq), np.inf, dtype=np.float32)
        np.minimum.at(node_min, inv, (node_s[near] / 60.0).astype(np.float32))
        cell_min[uniq] = np.maximum(cell_min[uniq], node_min)
        # A block takes the time of the slowest road cell around it (inf if any is unreached).
        block_min = np.full(self._n_blocks + 1, np.inf, dtype=np.float32)
        if len(self._pair_block):
            block_min[self._pair_block[self._block_starts]] = np.maximum.reduceat(
                cell_min[self._pair_cell], self._block_starts
            )
        # The window: the rows and columns with a reached cell, one cell more, in whole coarse cells.
        hit_grid = hit_cell.reshape(g.height, g.width)
        rows = np.flatnonzero(hit_grid.any(axis=1))
        cols = np.flatnonzero(hit_grid.any(axis=0))
        k = g.k
        r0 = max(int(rows[0]) - 1, 0) // k * k
        c0 = max(int(cols[0]) - 1, 0) // k * k
        r1 = min(-(-(int(rows[-1]) + 2) // k) * k, g.height)
        c1 = min(-(-(int(cols[-1]) + 2) // k) * k, g.width)
        win = cell_min.reshape(g.height, g.width)[r0:r1, c0:c1]
        has = self.has_sample[r0:r1, c0:c1]
        minutes = block_min.take(self._labels[r0:r1, c0:c1])
        np.copyto(minutes, win, where=has)
        return Reach(g, r0, c0, minutes, has, float(limit_min), node_s / 60.0, self._node_xy)

    def _samples_leaving(self, nodes: NDArray[np.int64]) -> NDArray[np.int64]:
        """Return the samples on the edges that leave ``nodes`` (node indices).

        The engine's rows are sorted by tail node, so a node's rows are one run, and so are
        their samples in `_row_order`.
        """
        rows_of = self._rows_of_node
        lo = self._row_start[rows_of[nodes]]
        hi = self._row_start[rows_of[nodes + 1]]
        n = hi - lo
        keep = n > 0
        lo, n = lo[keep], n[keep]
        if not len(n):
            return np.empty(0, dtype=np.int64)
        ends = np.cumsum(n)
        idx = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(lo - (ends - n), n)
        return self._row_order[idx]

    @cached_property
    def _rows_of_node(self) -> NDArray[np.int64]:
        """Return, per node index, where its rows start (and, one past the last node, the row count)."""
        return np.searchsorted(self._src, np.arange(len(self.engine.node_ids) + 1)).astype(np.int64)

    def _snapped_edges(self, cost: NDArray[np.float64], snaps: list[Snap], *, reverse: bool) -> NDArray[np.float64]:
        """Lower the times of samples on the snapped edges themselves (reached without a node)."""
        eng = self.engine
        rows_of = eng._row(self.metric)
        keys = eng._keyarr[self.metric]
        out = cost
        for snap in snaps:
            for u, v, key, f in snap.candidates():
                iu, iv = eng.index[u], eng.index[v]
                fwd = rows_of.get((iu, iv))
                if fwd is not None and int(keys[fwd]) == key:
                    out = self._along(out, fwd, f, reverse=reverse)
                back = rows_of.get((iv, iu))
                if back is not None and eng.has_reverse(u, v, key):
                    out = self._along(out, back, 1.0 - f, reverse=reverse)
        return out

    def _along(self, cost: NDArray[np.float64], row: int, f: float, *, reverse: bool) -> NDArray[np.float64]:
        sel = self._row_order[self._row_start[row] : self._row_start[row + 1]]
        fr = self.sample_frac[sel]
        w = self._w[row]
        direct = (f - fr) * w if reverse else (fr - f) * w
        ok = direct >= 0
        out = cost  # the caller's own array (`reach` makes a new one per request)
        out[sel[ok]] = np.minimum(out[sel[ok]], direct[ok])
        return out
