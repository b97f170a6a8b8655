"""Who pays for a closure plan: township-to-township delays under a gravity model of trips.

Each resident of an assessed township makes one trip per day to another assessed
township. Trips from township i go to township j in proportion to

    P_j * exp(-t_ij / TAU_S)

(the destination's population, discounted by the travel time before the closures;
TAU_S = 20 minutes), a doubly simple gravity model with an exponential deterrence. A
plan's cost to township i is the trip-weighted delay t_ij(after) - t_ij(before) of its
residents' trips; trips that have no route any more count as cut off, not as delay.
Person-hours lost per trip-day = sum over i of P_i * sum over connected j of p_ij * delay_ij,
in hours. Plans are ranked by that plus `CUT_OFF_HOURS` (one hour) per trip cut off.

Everything here is pure: matrices in, new arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["CUT_OFF_HOURS", "TAU_S", "ImpactFigures", "gravity_shares", "impact_figures", "weighted_quantile"]

TAU_S = 1200.0  # the gravity model's travel-time scale: a trip 20 minutes longer is e times rarer
# Comparing plans, a trip cut off counts as this many hours lost (it is not made, or made
# another way: an hour is a stated, round price, not a measurement).
CUT_OFF_HOURS = 1.0


def gravity_shares(population: NDArray[np.float64], before_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return p_ij: the share of township i's trips that go to township j (rows sum to 1, or 0).

    ``before_s`` is the (n, n) travel-time matrix without closures (inf where no route);
    the diagonal and unreachable pairs get no trips.

    Parameters
    ----------
    population
        People of each township.
    before_s
        Travel times between townships before any closure, seconds (inf where unreachable).
    """
    pop = np.asarray(population, dtype=float)
    t = np.asarray(before_s, dtype=float)
    w = pop[None, :] * np.exp(-np.where(np.isfinite(t), t, np.inf) / TAU_S)
    np.fill_diagonal(w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def weighted_quantile(values: NDArray[np.float64], weights: NDArray[np.float64], q: float) -> float:
    """Return the ``q`` quantile of ``values`` weighted by ``weights`` (the smallest value reaching the share).

    Parameters
    ----------
    values
        The values.
    weights
        A non-negative weight per value.
    q
        The quantile, in [0, 1].
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = w > 0
    if not keep.any():
        return 0.0
    order = np.argsort(v[keep], kind="stable")
    cum = np.cumsum(w[keep][order])
    i = int(np.searchsorted(cum, q * cum[-1] - 1e-12 * cum[-1]))
    return float(v[keep][order][min(i, len(cum) - 1)])


@dataclass(frozen=True)
class ImpactFigures:
    """Per township (in the order of the input) and in total."""

    mean_delay_s: NDArray[np.float64]
    p90_delay_s: NDArray[np.float64]
    people_cut_off: NDArray[np.float64]
    shares: NDArray[np.float64]  # p_ij
    delay_s: NDArray[np.float64]  # (n, n), nan where cut off or no trips
    person_hours_lost: float

    @property
    def total_cut_off(self) -> float:
        """Return the people (trips) cut off, in total."""
        return float(self.people_cut_off.sum())

    @property
    def cost_hours(self) -> float:
        """Return the plan's cost for ranking: person-hours lost plus `CUT_OFF_HOURS` per trip cut off."""
        return self.person_hours_lost + CUT_OFF_HOURS * self.total_cut_off


def impact_figures(
    population: NDArray[np.float64], before_s: NDArray[np.float64], after_s: NDArray[np.float64]
) -> ImpactFigures:
    """Return each township's trip-weighted delay and the people cut off, under `gravity_shares`.

    Parameters
    ----------
    population
        People of each township.
    before_s, after_s
        (n, n) travel times without and with the closures, seconds (inf where no route).
    """
    pop = np.asarray(population, dtype=float)
    before = np.asarray(before_s, dtype=float)
    after = np.asarray(after_s, dtype=float)
    p = gravity_shares(pop, before)
    connected = np.isfinite(after) & (p > 0)
    cut = np.isfinite(before) & ~np.isfinite(after) & (p > 0)
    # A closure cannot shorten a trip; tiny negative values are rounding of the engine's integer weights.
    delay = np.full_like(before, np.nan)
    np.subtract(after, before, out=delay, where=connected)
    delay = np.where(connected, np.maximum(delay, 0.0), np.nan)
    n = len(pop)
    mean = np.zeros(n)
    p90 = np.zeros(n)
    for i in range(n):
        w = np.where(connected[i], p[i], 0.0)
        if w.sum() > 0:
            d = np.nan_to_num(delay[i])
            mean[i] = float((w * d).sum() / w.sum())
            p90[i] = weighted_quantile(d, w, 0.9)
    people_cut = pop * np.where(cut, p, 0.0).sum(axis=1)
    hours = float((pop[:, None] * np.where(connected, p, 0.0) * np.nan_to_num(delay)).sum() / 3600.0)
    return ImpactFigures(mean, p90, people_cut, p, delay, hours)
