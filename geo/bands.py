"""The metric grid isochrones are drawn on, and a band: a set of its cells, traced as polygons.

The grid is aligned with the 100 m population raster (a cell is 1/k of a population
cell), so population within a band is exact sums over whole cells, with no resampling.
Polygons are the cells traced (`geo.tracing`, exact cell outlines) in UTM 50N and turned
to WGS84 by a fitted polynomial (checked against pyproj to about 1 mm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import shapely
from affine import Affine

from geo.crs import utm_to_lonlat
from geo.tracing import trace_cell_parts

if TYPE_CHECKING:
    from numpy.typing import NDArray


__all__ = ["Band", "Grid"]


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
        """Return the grid of cells ``coarse cell / k`` covering ``bounds_utm`` plus a margin.

        Parameters
        ----------
        bounds_utm
            The (minx, miny, maxx, maxy) to cover, UTM 50N metres.
        coarse_transform
            The population raster's affine transform (UTM 50N).
        k
            Cells per population cell along each axis.
        margin_m
            Extra margin on every side, metres.
        """
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
        """Return WGS84 lon, lat of UTM points in the grid (a checked polynomial fit, else pyproj).

        Parameters
        ----------
        x
            Easting, UTM 50N metres.
        y
            Northing, UTM 50N metres.
        """
        fit = self._lonlat_fit
        if fit is None:
            return utm_to_lonlat(x, y)
        w, h = max(self.width * self.cell_m, 1.0), max(self.height * self.cell_m, 1.0)
        a = _design((x - self.x0) / w, (self.y0 - y) / h)
        return fit[0] @ a, fit[1] @ a

    def cell_of(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
        """Return flat cell indices of UTM points (-1 outside the grid).

        Parameters
        ----------
        x
            Easting, UTM 50N metres.
        y
            Northing, UTM 50N metres.
        """
        col = np.floor((x - self.x0) / self.cell_m).astype(np.int64)
        row = np.floor((self.y0 - y) / self.cell_m).astype(np.int64)
        inside = (col >= 0) & (col < self.width) & (row >= 0) & (row < self.height)
        return np.where(inside, row * self.width + col, -1)


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
        """Return the band of ``mask`` (placed at row0, col0) cropped to its cells, coarse-aligned.

        Parameters
        ----------
        grid
            The grid the mask is on.
        row0
            The mask's first row in the grid.
        col0
            The mask's first column in the grid.
        mask
            Boolean cell mask.
        minutes
            The band's travel time, minutes (None for a distance band).
        """
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

        Parameters
        ----------
        tolerance_m
            Simplification tolerance of the polygons, metres (0: the exact cell outlines).
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
        """Return which UTM points lie in the band's cells.

        Parameters
        ----------
        x
            Easting, UTM 50N metres.
        y
            Northing, UTM 50N metres.
        """
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
