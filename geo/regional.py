"""The regional road skeleton: speeds calibrated on the detailed network, and the two joined.

The skeleton (raw item 8) is a simplified graph of Beijing's major roads: straight chords
between nodes rounded to 0.001°, with no road class, name, one-way flag or speed. It is the
only road data for Tongzhou, Yanqi Lake, Daxing Airport and Yanqing. Its travel times come
from the detailed 2013 network where both exist: trips between skeleton nodes are routed on
both, and one pace (seconds per chord metre) per chord-length class is fitted so that the
skeleton's trip times match the detailed ones (non-negative least squares on the relative
error, iterated because the skeleton's own routes depend on the paces). Long chords are
mostly expressways and simplified straight roads, short ones junction detail; the classes
let the fit tell them apart. A length factor (road metres per chord metre) is fitted the
same way, on the median.

Everything here is pure: arrays in, new arrays and graphs out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

from geo.errors import DataSourceError
from geo.network import CONNECTOR_CLASS, REGIONAL_CLASS

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "CHORD_CLASS_BOUNDS_M",
    "CONNECTOR_CLASS",
    "REGIONAL_CLASS",
    "Calibration",
    "Skeleton",
    "chord_class",
    "fit_calibration",
    "join_networks",
    "skeleton_trips",
]

# Chord-length classes, metres: < 1 km, 1-3 km, >= 3 km.
CHORD_CLASS_BOUNDS_M = (1000.0, 3000.0)


def chord_class(chord_m: NDArray[np.float64]) -> NDArray[np.int64]:
    """Return the chord-length class (0, 1, 2) of each chord length in metres.

    Parameters
    ----------
    chord_m
        Chord lengths (straight lines between skeleton nodes), metres.
    """
    return np.digitize(np.asarray(chord_m, dtype=float), CHORD_CLASS_BOUNDS_M).astype(np.int64)


@dataclass(frozen=True)
class Skeleton:
    """The skeleton as arrays: node ids and WGS84 positions, undirected edges and chord lengths."""

    node_ids: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    u: NDArray[np.int64]  # row numbers into node_ids
    v: NDArray[np.int64]
    chord_m: NDArray[np.float64]

    def __post_init__(self) -> None:
        n = len(self.node_ids)
        if len(self.u) == 0:
            raise DataSourceError("the regional skeleton has no edge.")
        if not (len(self.u) == len(self.v) == len(self.chord_m)):
            raise DataSourceError("the regional skeleton's edge arrays differ in length.")
        if min(int(self.u.min()), int(self.v.min())) < 0 or max(int(self.u.max()), int(self.v.max())) >= n:
            raise DataSourceError("a regional skeleton edge names a node that does not exist.")
        if not np.all(np.isfinite(self.chord_m)) or np.any(self.chord_m <= 0):
            raise DataSourceError("every regional skeleton edge needs a positive finite length.")

    def csgraph(self, weights: NDArray[np.float64]) -> sp.csr_matrix:
        """Return the undirected skeleton as a sparse matrix with ``weights`` per edge.

        Parameters
        ----------
        weights
            One weight per skeleton edge.
        """
        n = len(self.node_ids)
        return sp.coo_matrix(
            (np.r_[weights, weights], (np.r_[self.u, self.v], np.r_[self.v, self.u])), shape=(n, n)
        ).tocsr()


@dataclass(frozen=True)
class Calibration:
    """Fitted paces and length factor of the skeleton, with the error measured on held-out trips.

    Attributes
    ----------
    speeds_kph
        The speed along the chord of each chord-length class (`CHORD_CLASS_BOUNDS_M`).
    length_factor
        Road metres per chord metre (the median over the fitting trips).
    """

    speeds_kph: tuple[float, float, float]
    length_factor: float
    fit: dict[str, Any] = field(default_factory=dict)

    def pace_s_per_m(self) -> NDArray[np.float64]:
        """Return seconds per chord metre of each class."""
        return 3.6 / np.asarray(self.speeds_kph, dtype=float)

    def edge_times_s(self, chord_m: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return the travel time of chords of the given lengths.

        Parameters
        ----------
        chord_m
            Chord lengths (straight lines between skeleton nodes), metres.
        """
        c = np.asarray(chord_m, dtype=float)
        return c * self.pace_s_per_m()[chord_class(c)]

    def time_error(self) -> tuple[float, float]:
        """Return the held-out median and p90 relative error of trip times."""
        return float(self.fit.get("test_median_abs_rel", float("nan"))), float(
            self.fit.get("test_p90_abs_rel", float("nan"))
        )

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (see `from_json`)."""
        return {"speeds_kph": list(self.speeds_kph), "length_factor": self.length_factor, "fit": self.fit}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        """Return the calibration written by `to_json`, or raise `DataSourceError`.

        Parameters
        ----------
        data
            The calibration as `to_json` wrote it.
        """
        try:
            speeds = tuple(float(s) for s in data["speeds_kph"])
            factor = float(data["length_factor"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataSourceError(f"the regional calibration is malformed: {exc}") from exc
        if len(speeds) != 3 or not all(np.isfinite(s) and 5.0 <= s <= 150.0 for s in speeds):
            raise DataSourceError(
                f"the regional calibration's speeds must be three values of 5-150 km/h; got {speeds}."
            )
        if not (np.isfinite(factor) and 1.0 <= factor <= 3.0):
            raise DataSourceError(f"the regional calibration's length factor must be 1-3; got {factor}.")
        return cls((speeds[0], speeds[1], speeds[2]), factor, dict(data.get("fit", {})))


def skeleton_trips(
    skeleton: Skeleton, pace_s_per_m: NDArray[np.float64], src: NDArray[np.int64], dst: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Route trips on the skeleton with the given paces.

    Parameters
    ----------
    skeleton
        The major-road skeleton (raw item 8).
    pace_s_per_m
        Seconds per metre of chord, per chord class.
    src
        Trip origins, skeleton node indices.
    dst
        Trip destinations, skeleton node indices.

    Returns
    -------
    tuple
        The trip times in seconds (inf where no route) and, per trip, the chord metres
        driven in each chord-length class, shape (n, 3).
    """
    cls = chord_class(skeleton.chord_m)
    w = skeleton.chord_m * np.asarray(pace_s_per_m, dtype=float)[cls]
    g = skeleton.csgraph(w)
    sources, row_of = np.unique(src, return_inverse=True)
    dist, pred = csg.dijkstra(g, indices=sources, return_predecessors=True)
    edge_of: dict[tuple[int, int], int] = {}
    for i, (a, b) in enumerate(zip(skeleton.u.tolist(), skeleton.v.tolist(), strict=True)):
        for key in ((a, b), (b, a)):
            if key not in edge_of or w[i] < w[edge_of[key]]:
                edge_of[key] = i
    times = np.full(len(src), np.inf)
    by_class = np.zeros((len(src), 3))
    for k, (r, t) in enumerate(zip(row_of.tolist(), dst.tolist(), strict=True)):
        times[k] = dist[r, t]
        if not np.isfinite(times[k]):
            continue
        s, n = int(sources[r]), int(t)
        while n != s:
            p = int(pred[r, n])
            e = edge_of[(p, n)]
            by_class[k, cls[e]] += skeleton.chord_m[e]
            n = p
    return times, by_class


def fit_calibration(
    skeleton: Skeleton,
    src: NDArray[np.int64],
    dst: NDArray[np.int64],
    detailed_time_s: NDArray[np.float64],
    detailed_length_m: NDArray[np.float64],
    *,
    holdout: NDArray[np.bool_],
    iterations: int = 4,
) -> Calibration:
    """Fit the skeleton's paces and length factor on trips also routed on the detailed network.

    Parameters
    ----------
    skeleton
        The skeleton.
    src, dst
        The trips' ends, as skeleton node rows.
    detailed_time_s, detailed_length_m
        The same trips' fastest time and its length on the detailed network.
    holdout
        True for trips kept out of the fit and used only to measure the error.
    iterations
        Rounds of fit and re-route (the skeleton's routes depend on the paces).
    """
    t_d = np.asarray(detailed_time_s, dtype=float)
    l_d = np.asarray(detailed_length_m, dtype=float)
    train = ~np.asarray(holdout, dtype=bool)
    if train.sum() < 20 or (~train).sum() < 20:
        raise DataSourceError(
            f"too few matched trips to calibrate the regional skeleton ({int(train.sum())} to fit, "
            f"{int((~train).sum())} held out; at least 20 each)."
        )
    from scipy.optimize import nnls  # only the seed build calibrates (0.1 s of imports a server never needs)

    pace = np.full(3, 3.6 / 40.0)
    for _ in range(iterations):
        _, by_class = skeleton_trips(skeleton, pace, src, dst)
        a = by_class[train] / t_d[train][:, None]
        used = a.sum(axis=0) > 0
        fitted, _ = nnls(a[:, used], np.ones(int(train.sum())))
        new = pace.copy()
        new[used] = np.where(fitted > 0, fitted, pace[used])
        pace = new
    times, by_class = skeleton_trips(skeleton, pace, src, dst)
    chord = by_class.sum(axis=1)
    factor = float(np.median(l_d[train] / chord[train]))
    rel = (times - t_d) / t_d
    rel_len = (chord * factor - l_d) / l_d
    test = ~train

    def q(x: NDArray[np.float64], p: float) -> float:
        return round(float(np.quantile(x, p)), 4)

    fit = {
        "trips_fitted": int(train.sum()),
        "trips_held_out": int(test.sum()),
        "train_median_abs_rel": q(np.abs(rel[train]), 0.5),
        "test_median_abs_rel": q(np.abs(rel[test]), 0.5),
        "test_p90_abs_rel": q(np.abs(rel[test]), 0.9),
        "test_median_rel": q(rel[test], 0.5),
        "test_length_median_abs_rel": q(np.abs(rel_len[test]), 0.5),
        "test_length_p90_abs_rel": q(np.abs(rel_len[test]), 0.9),
        "chord_classes_m": list(CHORD_CLASS_BOUNDS_M),
    }
    speeds = tuple(round(float(3.6 / p), 2) for p in pace)
    return Calibration((speeds[0], speeds[1], speeds[2]), round(factor, 4), fit)


def join_networks(
    detailed: nx.MultiDiGraph,
    skeleton: Skeleton,
    calibration: Calibration,
    *,
    inner: NDArray[np.bool_],
    links: dict[int, list[tuple[int, float]]],
) -> nx.MultiDiGraph:
    """Return a new graph: the detailed network plus the skeleton where the detailed one ends.

    Skeleton edges with both ends inside the detailed network (``inner``) are left out: there
    the detailed roads answer. The others are added in both directions (node ids are the
    negated skeleton ids, so they cannot clash with OSM ids), and each skeleton node of
    ``links`` is joined to the detailed nodes given there (id, distance in metres) by a
    `CONNECTOR_CLASS` edge each way.

    Parameters
    ----------
    detailed
        The detailed drive graph (osmnx attributes, ``length_m`` and ``travel_time_s``).
    skeleton
        The skeleton.
    calibration
        Its fitted paces and length factor.
    inner
        Per skeleton node, whether it lies well inside the detailed network.
    links
        Skeleton node row -> detailed nodes to join it to.
    """
    g = detailed.copy()
    g.graph["regional"] = True
    times = calibration.edge_times_s(skeleton.chord_m)
    keep = ~(inner[skeleton.u] & inner[skeleton.v])
    used = np.zeros(len(skeleton.node_ids), dtype=bool)
    used[skeleton.u[keep]] = True
    used[skeleton.v[keep]] = True
    nid = -skeleton.node_ids
    for r in np.flatnonzero(used).tolist():
        g.add_node(int(nid[r]), x=float(skeleton.lon[r]), y=float(skeleton.lat[r]), network="regional")
    for i in np.flatnonzero(keep).tolist():
        a, b = int(nid[skeleton.u[i]]), int(nid[skeleton.v[i]])
        length = float(skeleton.chord_m[i]) * calibration.length_factor
        t = float(times[i])
        attrs = {
            "highway": REGIONAL_CLASS,
            "length": length,
            "length_m": length,
            "travel_time_s": t,
            "speed_kph": length / t * 3.6,
            "network": "regional",
        }
        g.add_edge(a, b, **attrs)
        g.add_edge(b, a, **attrs)
    link_pace = float(calibration.pace_s_per_m()[0])
    for r, targets in links.items():
        if not used[r]:
            continue
        for node, dist_m in targets:
            length = max(float(dist_m), 1.0)
            attrs = {
                "highway": CONNECTOR_CLASS,
                "length": length,
                "length_m": length,
                "travel_time_s": length * link_pace,
                "speed_kph": 3.6 / link_pace,
                "network": "regional",
            }
            g.add_edge(int(nid[r]), int(node), **attrs)
            g.add_edge(int(node), int(nid[r]), **attrs)
    return g
