"""What a band covers: people, zones (townships), stations; unions, overlaps, and choosing sites.

Population comes from a coarse raster (people per cell) aligned with the bands' grid: a
coarse cell counts with the share of its fine cells inside the band. Zones are given as
their cells in that raster with the people each holds, so per-zone figures add up to the
raster's. Choosing sites uses PySAL spopt (maximal covering and set covering) on demand
units that group fine cells by which candidates cover them: the same optimum as one
unit per cell, with a few hundred units instead of millions.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from rasterio import features

from geo.errors import InvalidInputError
from geo.isochrones import Band, Grid

if TYPE_CHECKING:
    import shapely
    from affine import Affine
    from numpy.typing import NDArray

__all__ = [
    "Choice",
    "DemandUnits",
    "ZoneCells",
    "choose_max_cover",
    "choose_min_sites",
    "demand_units",
    "overlap",
    "population",
    "union",
    "zone_cells",
    "zone_population",
]


def _window(raster: NDArray[np.float32], r0: int, c0: int, h: int, w: int) -> NDArray[np.float64]:
    """Return raster[r0:r0+h, c0:c0+w], zero where the window leaves the raster."""
    out = np.zeros((h, w))
    rr0, cc0 = max(r0, 0), max(c0, 0)
    rr1, cc1 = min(r0 + h, raster.shape[0]), min(c0 + w, raster.shape[1])
    if rr1 > rr0 and cc1 > cc0:
        out[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0] = raster[rr0:rr1, cc0:cc1]
    return out


def population(band: Band, people: NDArray[np.float32]) -> float:
    """Return the people in a band.

    Parameters
    ----------
    band
        Cells of a grid aligned with ``people`` (see `geo.isochrones.Grid.covering`).
    people
        People per coarse cell (the whole raster; nodata as 0).
    """
    r0, c0, share = band.coarse_share()
    return float((_window(people, r0, c0, *share.shape) * share).sum())


@dataclass(frozen=True)
class ZoneCells:
    """The people of each zone (township) by coarse raster cell.

    Attributes
    ----------
    row, col
        Coarse raster cell of each entry, sorted by row.
    zone
        Zone index of each entry (0..n_zones-1).
    people
        People of that zone in that cell; per zone they sum to the zone's population.
    n_zones
        Number of zones.
    small
        Zones smaller than a cell, placed in the cell of their representative point.
    """

    row: NDArray[np.int64] = field(repr=False)
    col: NDArray[np.int64] = field(repr=False)
    zone: NDArray[np.int64] = field(repr=False)
    people: NDArray[np.float64] = field(repr=False)
    n_zones: int
    small: tuple[int, ...] = ()

    def totals(self) -> NDArray[np.float64]:
        """Return each zone's population."""
        return np.bincount(self.zone, weights=self.people, minlength=self.n_zones).astype(np.float64)

    def raster(self, shape: tuple[int, int]) -> NDArray[np.float64]:
        """Return people per cell (-1 where no zone holds the cell).

        Parameters
        ----------
        shape
            The (rows, columns) of the population raster.
        """
        out = np.full(shape, -1.0)
        out[self.row, self.col] = 0.0
        np.add.at(out, (self.row, self.col), self.people)
        return out


def zone_cells(
    zones_utm: list[shapely.Geometry],
    people: NDArray[np.float64],
    transform: Affine,
    shape: tuple[int, int],
) -> ZoneCells:
    """Spread each zone's people evenly over the raster cells whose centre it holds.

    A zone smaller than a cell (holding no centre) puts its people in the cell of its
    representative point.

    Parameters
    ----------
    zones_utm
        Zone polygons, UTM 50N.
    people
        Each zone's population.
    transform, shape
        The raster's grid.
    """
    ids = features.rasterize(
        ((g, i) for i, g in enumerate(zones_utm)), out_shape=shape, transform=transform, fill=-1, dtype="int32"
    )
    n = len(zones_utm)
    rows, cols = np.nonzero(ids >= 0)
    zone = ids[rows, cols].astype(np.int64)
    counts = np.bincount(zone, minlength=n)
    per_cell = np.where(counts > 0, people / np.maximum(counts, 1), 0.0)
    extra_r, extra_c, extra_z = [], [], []
    inv = ~transform
    for i in np.flatnonzero(counts == 0):
        p = zones_utm[i].representative_point()
        c, r = inv @ (p.x, p.y)
        extra_r.append(int(r))
        extra_c.append(int(c))
        extra_z.append(int(i))
    all_r = np.concatenate([rows, np.array(extra_r, dtype=np.int64)]).astype(np.int64)
    order = np.argsort(all_r, kind="stable")
    return ZoneCells(
        all_r[order],
        np.concatenate([cols, np.array(extra_c, dtype=np.int64)]).astype(np.int64)[order],
        np.concatenate([zone, np.array(extra_z, dtype=np.int64)])[order],
        np.concatenate([per_cell[zone], people[np.array(extra_z, dtype=np.int64)]]).astype(np.float64)[order],
        n,
        tuple(extra_z),
    )


def zone_population(band: Band, zones: ZoneCells) -> NDArray[np.float64]:
    """Return the people of each zone inside ``band``.

    Parameters
    ----------
    band
        A band (`geo.bands.Band`).
    zones
        The zones' cells (`zone_cells`).
    """
    r0, c0, share = band.coarse_share()
    h, w = share.shape
    lo, hi = np.searchsorted(zones.row, [r0, r0 + h])  # entries are sorted by row
    r, c = zones.row[lo:hi] - r0, zones.col[lo:hi] - c0
    ok = (c >= 0) & (c < w)
    weights = zones.people[lo:hi][ok] * share[r[ok], c[ok]]
    return np.bincount(zones.zone[lo:hi][ok], weights=weights, minlength=zones.n_zones).astype(np.float64)


def _full(bands: list[Band]) -> tuple[Grid, NDArray[np.uint8]]:
    if not bands:
        raise InvalidInputError("no bands to combine; give at least one site.")
    grid = bands[0].grid
    count = np.zeros((grid.height, grid.width), dtype=np.uint8)
    for b in bands:
        if b.grid != grid:
            raise InvalidInputError("bands on different grids (networks) cannot be combined.")
        h, w = b.mask.shape
        count[b.row0 : b.row0 + h, b.col0 : b.col0 + w] += b.mask
    return grid, count


def union(bands: list[Band]) -> Band:
    """Return the cells inside at least one of ``bands``.

    Parameters
    ----------
    bands
        Bands on one grid.
    """
    grid, count = _full(bands)
    return Band.crop(grid, 0, 0, count > 0, bands[0].minutes)


def overlap(bands: list[Band]) -> Band:
    """Return the cells inside two or more of ``bands``.

    Parameters
    ----------
    bands
        Bands on one grid.
    """
    grid, count = _full(bands)
    return Band.crop(grid, 0, 0, count > 1, bands[0].minutes)


@dataclass(frozen=True)
class DemandUnits:
    """Fine cells grouped by the set of candidates that cover them.

    Attributes
    ----------
    covers
        (units, candidates) boolean: which candidates cover each unit.
    people
        People of each unit.
    """

    covers: NDArray[np.bool_] = field(repr=False)
    people: NDArray[np.float64] = field(repr=False)


def demand_units(bands: list[Band], people: NDArray[np.float32]) -> DemandUnits:
    """Group the people in the union of ``bands`` (one per candidate) by who covers them.

    A coarse cell's people are spread evenly over its fine cells.

    Parameters
    ----------
    bands
        One band per candidate, on one grid.
    people
        People per population cell (the 100 m raster).
    """
    if len(bands) > 62:
        raise InvalidInputError(f"{len(bands)} candidates; at most 62 can be compared at once.")
    grid = bands[0].grid
    k = grid.k
    whole = union(bands)
    h, w = whole.mask.shape
    sig = np.zeros((h, w), dtype=np.int64)
    for i, b in enumerate(bands):
        bh, bw = b.mask.shape
        r, c = b.row0 - whole.row0, b.col0 - whole.col0
        sig[r : r + bh, c : c + bw] |= b.mask.astype(np.int64) << i
    r0, c0 = grid.coarse_offset[0] + whole.row0 // k, grid.coarse_offset[1] + whole.col0 // k
    coarse = _window(people, r0, c0, h // k, w // k)
    fine = np.repeat(np.repeat(coarse, k, axis=0), k, axis=1) / (k * k)
    keep = (sig > 0) & (fine > 0)
    codes, inverse = np.unique(sig[keep], return_inverse=True)
    weights = np.bincount(inverse, weights=fine[keep], minlength=len(codes)).astype(np.float64)
    covers = ((codes[:, None] >> np.arange(len(bands))[None, :]) & 1).astype(bool)
    return DemandUnits(covers, weights)


@dataclass(frozen=True)
class Choice:
    """Chosen candidates (indices into the candidate list) and the people they cover."""

    chosen: tuple[int, ...]
    covered: float


def _cost_matrix(units: DemandUnits) -> NDArray[np.float64]:
    """Return a (units, candidates) cost matrix: 0 where covered, 2 where not (radius 1)."""
    return np.where(units.covers, 0.0, 2.0)


@contextlib.contextmanager
def _quiet_pulp() -> Iterator[None]:
    """Hide PuLP 3.x's notices about its 4.0 API, which spopt 0.7 does not use yet."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*PuLP 4.0.*", category=DeprecationWarning)
        yield


def choose_max_cover(units: DemandUnits, *, k: int) -> Choice:
    """Return the ``k`` candidates that together cover the most people (spopt MCLP).

    Parameters
    ----------
    units
        The demand units (`demand_units`).
    k
        How many candidates to choose.
    """
    import pulp
    from spopt.locate import MCLP

    n = units.covers.shape[1]
    if not 1 <= k <= n:
        raise InvalidInputError(f"`k` must be between 1 and the number of candidates ({n}); got {k}.")
    if len(units.people) == 0:
        return Choice(tuple(range(k)), 0.0)
    with _quiet_pulp():
        model = MCLP.from_cost_matrix(_cost_matrix(units), units.people, service_radius=1.0, p_facilities=k)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = tuple(i for i, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5)
    return Choice(chosen, _covered(units, chosen))


def choose_min_sites(units: DemandUnits) -> Choice:
    """Return the fewest candidates that cover everyone any candidate covers (spopt LSCP).

    Parameters
    ----------
    units
        The demand units (`demand_units`).
    """
    import pulp
    from spopt.locate import LSCP

    if len(units.people) == 0:
        return Choice((), 0.0)
    with _quiet_pulp():
        model = LSCP.from_cost_matrix(_cost_matrix(units), service_radius=1.0)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = tuple(i for i, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5)
    return Choice(chosen, _covered(units, chosen))


def _covered(units: DemandUnits, chosen: tuple[int, ...]) -> float:
    if not chosen:
        return 0.0
    hit = units.covers[:, list(chosen)].any(axis=1)
    return float(units.people[hit].sum())
