"""Register a planar road network to WGS84 against reference points.

The 2013 road network comes in an undocumented planar space. Subway entrances (OSM,
WGS84) stand on pavements beside roads, so the transform that brings the roads next to
the most entrances is the registration.

Plain iterative closest point (ICP) falls into local minima on a dense street grid
(measured: 35 m median residual from a rough start). This module instead maximises a
kernel correlation, the sum over reference points of ``exp(-d^2 / 2 sigma^2)`` where
``d`` is the distance to the nearest road, with ``sigma`` annealed from 400 m to 50 m
(Tsin & Kanade 2004; the same idea as coherent point drift). Narrower kernels overfit:
ending at 25 m lowers the median entrance residual to 18 m but moves the Qianmen axis
streets 44 m off the Line 8 stations beneath them, against 15 m when ending at 50 m.
The model is affine:
translation, two scales, rotation and shear about the network's centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize
from scipy.spatial import cKDTree

from geo.errors import RegistrationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = ["AffineLonLat", "RegistrationResult", "densify_polylines", "fit_kernel_correlation", "residuals_m"]

_M_PER_DEG_LAT = 111_132.0
_MAX_SCALE_PCT = 5.0
_MAX_ROT_SHEAR_MILLI = 50.0


@dataclass(frozen=True)
class AffineLonLat:
    """An affine map from planar (x, y) to (lon, lat) degrees.

    ``lon = lon0 + a*x + b*y`` and ``lat = lat0 + c*x + d*y``.
    """

    lon0: float
    a: float
    b: float
    lat0: float
    c: float
    d: float

    def apply(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return lon, lat arrays for planar x, y arrays.

        Parameters
        ----------
        x
            Planar x of the raw 2013 roads.
        y
            Planar y of the raw 2013 roads.
        """
        return self.lon0 + self.a * x + self.b * y, self.lat0 + self.c * x + self.d * y

    def inverse(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return planar (n, 2) points for lon, lat arrays.

        Parameters
        ----------
        lon
            Longitudes, WGS84 degrees.
        lat
            Latitudes, WGS84 degrees.
        """
        mat = np.array([[self.a, self.b], [self.c, self.d]])
        rhs = np.vstack([np.asarray(lon) - self.lon0, np.asarray(lat) - self.lat0])
        return np.asarray(np.linalg.solve(mat, rhs).T, dtype=float)

    def as_dict(self) -> dict[str, float]:
        """Return the six coefficients by name."""
        return {"lon0": self.lon0, "a": self.a, "b": self.b, "lat0": self.lat0, "c": self.c, "d": self.d}


@dataclass(frozen=True)
class RegistrationResult:
    """The outcome of a registration: transform, residuals and how it was reached."""

    transform: AffineLonLat
    residuals_m: NDArray[np.float64] = field(repr=False)
    evaluations: int

    @property
    def median_m(self) -> float:
        """Median distance from a reference point to the nearest registered road, metres."""
        return float(np.median(self.residuals_m))

    @property
    def p90_m(self) -> float:
        """90th percentile of the residuals, metres."""
        return float(np.percentile(self.residuals_m, 90))


def densify_polylines(lines: Sequence[NDArray[np.float64]], *, step: float) -> NDArray[np.float64]:
    """Return points along each polyline no further apart than ``step`` (planar units).

    Parameters
    ----------
    lines
        Polylines as (n, 2) arrays in planar coordinates.
    step
        Maximum spacing between consecutive output points, in the same units.

    Returns
    -------
    ndarray
        An (m, 2) array of points including every original vertex.
    """
    out: list[NDArray[np.float64]] = []
    for line in lines:
        if len(line) > 1:
            seg = np.diff(line, axis=0)
            counts = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step).astype(int))
            start = np.repeat(line[:-1], counts, axis=0)
            delta = np.repeat(seg, counts, axis=0)
            t = np.concatenate([np.arange(n) / n for n in counts])
            out.append(start + t[:, None] * delta)
        out.append(line[-1:])
    return np.vstack(out) if out else np.empty((0, 2))


def _metric_scale(lat_ref: float) -> NDArray[np.float64]:
    return np.array([_M_PER_DEG_LAT * np.cos(np.radians(lat_ref)), _M_PER_DEG_LAT])


def residuals_m(
    road_xy: NDArray[np.float64], ref_lonlat: NDArray[np.float64], transform: AffineLonLat
) -> NDArray[np.float64]:
    """Return, for each reference point, the distance in metres to the nearest road point.

    Parameters
    ----------
    road_xy
        (n, 2) planar points along the roads.
    ref_lonlat
        (m, 2) WGS84 lon/lat reference points.
    transform
        The planar → lon/lat transform to evaluate.
    """
    k = _metric_scale(float(np.median(ref_lonlat[:, 1])))
    lon, lat = transform.apply(road_xy[:, 0], road_xy[:, 1])
    dist, _ = cKDTree(np.column_stack([lon, lat]) * k).query(ref_lonlat * k)
    return np.asarray(dist, dtype=float)


def _compose(
    initial: AffineLonLat, params: NDArray[np.float64], centre: NDArray[np.float64], k: NDArray[np.float64]
) -> AffineLonLat:
    """Apply a metric similarity+shear ``params`` about ``centre`` after ``initial``."""
    tx, ty, sx_pct, sy_pct, rot_milli, shear_milli = params
    cos, sin = np.cos(rot_milli / 1000), np.sin(rot_milli / 1000)
    lin = np.array([[cos, -sin], [sin, cos]]) @ np.array(
        [[np.exp(sx_pct / 100), shear_milli / 1000], [0.0, np.exp(sy_pct / 100)]]
    )
    to_m = np.diag(k)
    from_m = np.diag(1 / k)
    a0 = np.array([[initial.a, initial.b], [initial.c, initial.d]])
    b0 = np.array([initial.lon0, initial.lat0])
    mat = from_m @ lin @ to_m @ a0
    off = from_m @ (lin @ (to_m @ b0 - centre) + centre + np.array([tx, ty]))
    return AffineLonLat(
        float(off[0]), float(mat[0, 0]), float(mat[0, 1]), float(off[1]), float(mat[1, 0]), float(mat[1, 1])
    )


def fit_kernel_correlation(
    road_xy: NDArray[np.float64],
    ref_lonlat: NDArray[np.float64],
    *,
    initial: AffineLonLat,
    sigmas_m: Sequence[float] = (400.0, 200.0, 100.0, 50.0),
) -> RegistrationResult:
    """Fit an affine planar → lon/lat transform by annealed kernel correlation.

    Parameters
    ----------
    road_xy
        (n, 2) planar points along the roads (densified, see `densify_polylines`).
    ref_lonlat
        (m, 2) WGS84 lon/lat reference points that stand beside roads.
    initial
        Starting transform; it needs to be right to within about a kilometre and a
        few per cent of scale.
    sigmas_m
        The kernel widths, widest first. Each stage starts from the previous optimum.

    Returns
    -------
    RegistrationResult
        The transform and each reference point's distance to the nearest road.
    """
    if len(road_xy) < 3 or len(ref_lonlat) < 3:
        raise RegistrationError(
            f"`road_xy` has {len(road_xy)} points and `ref_lonlat` {len(ref_lonlat)}; "
            "at least 3 of each are needed to fit an affine transform."
        )
    k = _metric_scale(float(np.median(ref_lonlat[:, 1])))
    lon0, lat0 = initial.apply(road_xy[:, 0], road_xy[:, 1])
    centre = np.array([np.median(lon0), np.median(lat0)]) * k
    # A tree over the roads in the initial metric frame; distances are corrected by the
    # current scale, so the tree is built once.
    a0 = np.array([[initial.a, initial.b], [initial.c, initial.d]])
    frame = np.diag(k) @ a0
    tree = cKDTree(road_xy @ frame.T)

    def score(params: NDArray[np.float64], sigma: float) -> float:
        if np.any(np.abs(params[2:4]) > _MAX_SCALE_PCT) or np.any(np.abs(params[4:]) > _MAX_ROT_SHEAR_MILLI):
            return 0.0
        tf = _compose(initial, params, centre, k)
        planar = tf.inverse(ref_lonlat[:, 0], ref_lonlat[:, 1])
        scale = float(np.exp((params[2] + params[3]) / 200))
        dist, _ = tree.query(planar @ frame.T, distance_upper_bound=4 * sigma / scale)
        dist = dist[np.isfinite(dist)] * scale
        return -float(np.sum(np.exp(-(dist**2) / (2 * sigma**2))))

    params = np.zeros(6)
    evaluations = 0
    for sigma in sigmas_m:
        steps = np.array([sigma / 2, sigma / 2, 0.5, 0.5, 5.0, 5.0])
        simplex = np.vstack([params, params + np.diag(steps)])
        res = minimize(
            score,
            params,
            args=(sigma,),
            method="Nelder-Mead",
            options={"xatol": 0.05, "fatol": 1e-4, "maxfev": 3000, "initial_simplex": simplex},
        )
        params = np.asarray(res.x, dtype=float)
        evaluations += int(res.nfev)
    if score(params, float(sigmas_m[-1])) == 0.0:
        raise RegistrationError(
            "no reference point lies near the registered roads; the `initial` transform is too far off."
        )
    tf = _compose(initial, params, centre, k)
    return RegistrationResult(transform=tf, residuals_m=residuals_m(road_xy, ref_lonlat, tf), evaluations=evaluations)
