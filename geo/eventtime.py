"""When people travel, by which mode, and what a closure held for T costs them: the event-time model.

The constants below are the model's; each names its source, or says it has none.

- When trips leave: `DIURNAL_TRIPS`, vehicle trips by hour of departure on a weekday, from the
  FHWA's Highway Statistics 2006, table NT-3 (base: the 2001 US National Household Travel
  Survey). No hourly profile of Beijing's trips was found in a public source; this is a
  published urban profile, named, not Beijing's.
- Which mode: `MODE_SHARES`, the weekday trips of Beijing's central city (walking included) in
  2019, from the Beijing Transport Institute's 2021 Beijing Transport Development Annual
  Report, which gives 2020's shares and their change from 2019 (subway 14.7 %, +1.8 points
  back to 2019; bus 11.7 %, +3.6; bicycle 15.5 %, -3.4; walking 31.2 %, -1.0; green trips
  73.1 %, +1.0). 2019 is used as the last year before the pandemic; ``car`` is the trips that
  are not green (car, taxi and the rest): 100 - 74.1 = 25.9 %.
- How many: `CENTRAL_TRIPS_2019`, the same report's 36.19 million weekday trips of the central
  city in 2020 (walking included), 8.5 % fewer than in 2019: 39.55 million in 2019.
- Occupancy: `CAR_OCCUPANCY`, 1.50 persons per car on weekdays (2001 NHTS, BTS Highlights of
  the 2001 NHTS, table A-15). No Beijing figure was found.
- Saturation: `SATURATION_PCPHPL`, the HCM base saturation flow of 1,900 passenger cars per
  hour per lane at a signalised approach (HCM 2010, chapter 18); motorways and expressways take
  `FREEWAY_CAPACITY_PCPHPL`, 2,400 per lane (HCM 2010, exhibit 11-17, basic freeway segments).
  Lanes per direction by road class, `LANES_BY_CLASS`: the 2013 roads carry no lane counts;
  the numbers are an assumption, no source.
- Cycling: `BIKE_SPEED_KPH`, 15 km/h on the walk network: an assumption, no source.

The queue: a closure of length T on an approach with arrival flow q and saturation flow s
holds q*T vehicles; after reopening they clear in q*T/(s - q), and the vehicle-hours lost
are D = q*T**2 / (2*(1 - q/s)) (the deterministic queue). Spread over the q*T trips that
arrive while it is closed, each pays T/(2*(1 - q/s)). Each trip pays the smaller of that and
its detour (`wait_or_detour`). Everything here is pure: numbers and arrays in, out.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geo.errors import InvalidInputError

__all__ = [
    "CAR_OCCUPANCY",
    "CENTRAL_TRIPS_2019",
    "DAY_S",
    "DIURNAL_TRIPS",
    "MODES",
    "MODE_SHARES",
    "PROFILES",
    "ClockWindow",
    "Piece",
    "check_shares",
    "closed_span",
    "hour_share",
    "parse_instant",
    "parse_window",
    "pieces",
    "queue_delay_vh",
    "saturation_flow",
    "wait_or_detour",
]

DAY_S = 86400  # seconds in a day: a unit, not a model constant
# Vehicle trips by hour of departure, weekday (thousands; FHWA Highway Statistics 2006, table NT-3, 2001 NHTS).
DIURNAL_TRIPS = (
    147, 82, 83, 36, 249, 639, 1607, 3893, 2994, 2294, 2600, 2967,
    3166, 3032, 3321, 3888, 3959, 4377, 3746, 2819, 2061, 1559, 783, 381,
)  # fmt: skip
PROFILES: dict[str, NDArray[np.float64]] = {
    "diurnal": np.asarray(DIURNAL_TRIPS, dtype=float) / sum(DIURNAL_TRIPS),
    "flat": np.full(24, 1.0 / 24.0),  # every hour alike: the model before time windows (a choice, not data)
}
MODES = ("car", "bus", "subway", "bike", "walk")
# Central-city weekday trip shares, 2019 (Beijing Transport Institute, 2021 annual report; see the module text).
MODE_SHARES: dict[str, float] = {"car": 0.259, "bus": 0.153, "subway": 0.165, "bike": 0.121, "walk": 0.302}
CENTRAL_TRIPS_2019 = 36.19e6 / (1 - 0.085)  # weekday trips of the central city, walking included (same report)
CAR_OCCUPANCY = 1.50  # persons per car, weekday (2001 NHTS, BTS table A-15)
SATURATION_PCPHPL = 1900.0  # HCM 2010 base saturation flow, passenger cars per hour per lane
FREEWAY_CAPACITY_PCPHPL = 2400.0  # HCM 2010 exhibit 11-17: basic freeway segment capacity per lane
FREEWAY_CLASSES = frozenset({"motorway", "trunk"})  # Beijing's ring roads and expressways are trunk or motorway in OSM
# Lanes per direction by OSM class: the 2013 roads have no lane counts; an assumption, no source.
LANES_BY_CLASS: dict[str, int] = {"motorway": 3, "trunk": 3, "primary": 2, "secondary": 2}
BIKE_SPEED_KPH = 15.0  # cycling speed on the walk network: an assumption, no source
SHARE_TOLERANCE = 1e-3  # how far given shares may miss summing to one (rounding; a choice, not data)

_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?$")


@dataclass(frozen=True)
class ClockWindow:
    """A closure's time window, seconds after midnight of its day (``end_s`` may pass 24:00 up to a day later)."""

    start_s: int
    end_s: int

    @property
    def seconds(self) -> int:
        """Return the window's length, seconds."""
        return self.end_s - self.start_s

    def iso(self) -> dict[str, str]:
        """Return the window as ISO 8601 local times that `parse_window` reads back.

        ``HH:MM[:SS]`` within one day (24:00 ends it); a window past midnight as date-times on a
        nominal first day, 2000-01-01 (the model is one typical weekday: a date counts only for
        crossing midnight).
        """

        def clock(s: int) -> str:
            rest = s % DAY_S if s != DAY_S else s
            return f"{rest // 3600:02d}:{rest % 3600 // 60:02d}" + (f":{rest % 60:02d}" if rest % 60 else "")

        if self.end_s <= DAY_S:
            return {"start": clock(self.start_s), "end": clock(self.end_s)}
        return {"start": f"2000-01-01T{clock(self.start_s)}", "end": f"2000-01-02T{clock(self.end_s - DAY_S)}"}

    def label(self) -> str:
        """Return ``HH:MM-HH:MM`` (the end day's clock time after midnight)."""
        w = {k: v.split("T")[-1] for k, v in self.iso().items()}
        return f"{w['start']}-{w['end']}"


ALL_DAY = ClockWindow(0, DAY_S)


def _parse_time(value: object, label: str) -> tuple[dt.date | None, int]:
    """Return (date or None, seconds after that date's midnight) of ``HH:MM[:SS]`` or an ISO date-time."""
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInputError(f"`{label}` must be a time 'HH:MM' or an ISO 8601 date-time; got {value!r:.60}.")
    m = _CLOCK.match(value)
    if m:
        s = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)
        if s > DAY_S:
            raise InvalidInputError(f"`{label}` must be at most 24:00; got {value!r}.")
        return None, s
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"`{label}` must be a time 'HH:MM' or an ISO 8601 date-time ('2026-10-01T07:30'); got {value!r}."
        ) from None
    if t.tzinfo is not None:  # Beijing local time is UTC+8, with no daylight saving
        t = t.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    return t.date(), t.hour * 3600 + t.minute * 60 + t.second


def parse_instant(value: object, label: str) -> tuple[dt.date | None, int]:
    """Return a checked ``HH:MM[:SS]`` (date None) or ISO 8601 date-time as (date, seconds after its midnight).

    Parameters
    ----------
    value
        The time as given.
    label
        Its place in the request, for messages.
    """
    d, s = _parse_time(value, label)
    if s >= DAY_S and d is None:
        raise InvalidInputError(f"`{label}` must be before 24:00 (a later time is given as an ISO date-time).")
    return d, s


def parse_window(value: object, label: str) -> ClockWindow:
    """Return a checked window from ``{"start": ..., "end": ...}`` (local clock times or ISO date-times).

    Clock times must end after they start (24:00 is the end of the day); a window that runs
    past midnight is given as date-times. A window longer than 24 hours is refused.

    Parameters
    ----------
    value
        The window as given.
    label
        Its place in the request, for messages.
    """
    if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
        raise InvalidInputError(f"`{label}` must be an object with exactly 'start' and 'end'; got {value!r:.80}.")
    d0, s0 = _parse_time(value["start"], f"{label}.start")
    d1, s1 = _parse_time(value["end"], f"{label}.end")
    if (d0 is None) != (d1 is None):
        raise InvalidInputError(f"`{label}`: give both times as clock times or both as date-times.")
    if s0 >= DAY_S:
        raise InvalidInputError(f"`{label}.start` must be before 24:00.")
    end = s1 if d0 is None or d1 is None else s1 + (d1 - d0).days * DAY_S
    if end <= s0:
        raise InvalidInputError(
            f"`{label}` ends ({value['end']}) before it starts ({value['start']}); "
            "a window past midnight is given as ISO date-times."
        )
    if end - s0 > DAY_S:
        raise InvalidInputError(f"`{label}` lasts {(end - s0) / 3600:.1f} h; a window lasts at most 24 hours.")
    return ClockWindow(s0, end)


def check_shares(shares: Mapping[str, float], label: str = "modes") -> dict[str, float]:
    """Return mode shares checked: known modes, finite, non-negative, summing to one.

    Parameters
    ----------
    shares
        Mode to share of trips.
    label
        The field, for messages.
    """
    unknown = sorted(set(shares) - set(MODES))
    if unknown:
        raise InvalidInputError(f"`{label}`: unknown mode {unknown[0]!r}; the modes are {', '.join(MODES)}.")
    out = {}
    for m, v in shares.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or not 0.0 <= v <= 1.0:
            raise InvalidInputError(f"`{label}.{m}` must be a share between 0 and 1; got {v!r}.")
        out[m] = float(v)
    total = sum(out.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise InvalidInputError(f"`{label}`: the shares must sum to 1; they sum to {total:.4g}.")
    return out


@dataclass(frozen=True)
class Piece:
    """A stretch of the day in one clock hour with one set of closures in force."""

    start_s: int
    end_s: int
    active: tuple[int, ...]  # the items closed throughout it

    @property
    def hour(self) -> int:
        """Return the profile's hour of the piece (the day wraps)."""
        return (self.start_s // 3600) % 24

    @property
    def hours(self) -> float:
        """Return its length, hours."""
        return (self.end_s - self.start_s) / 3600.0


def pieces(windows: Sequence[ClockWindow]) -> list[Piece]:
    """Return the day cut where any item opens or closes and at every hour, within the items' windows.

    Parameters
    ----------
    windows
        Each closed item's window.
    """
    if not windows:
        return []
    lo = min(w.start_s for w in windows)
    hi = max(w.end_s for w in windows)
    cuts = {lo, hi} | {w.start_s for w in windows} | {w.end_s for w in windows}
    cuts |= set(range((lo // 3600 + 1) * 3600, hi, 3600))
    edges = sorted(cuts)
    out = []
    for a, b in itertools.pairwise(edges):
        active = tuple(i for i, w in enumerate(windows) if w.start_s <= a < w.end_s)
        if active:
            out.append(Piece(a, b, active))
    return out


def hour_share(piece: Piece, profile: NDArray[np.float64]) -> float:
    """Return the share of the day's trips that leave during a piece (uniform within its hour).

    Parameters
    ----------
    piece
        A piece of the day inside one hour.
    profile
        Share of the day's trips per hour (24 values summing to one).
    """
    return float(profile[piece.hour]) * piece.hours


def closed_span(windows: Sequence[ClockWindow], t: int) -> int:
    """Return the length (seconds) of the unbroken closure that holds instant ``t`` (the union of ``windows``).

    Parameters
    ----------
    windows
        The windows of the items that close one road link.
    t
        An instant inside one of them.
    """
    spans = sorted((w.start_s, w.end_s) for w in windows)
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    for a, b in merged:
        if a <= t < b:
            return b - a
    return 0


def saturation_flow(road_class: str) -> float:
    """Return a road link's saturation flow, cars per hour, from its OSM class (see the module text).

    Parameters
    ----------
    road_class
        The OSM ``highway`` value (``_link`` roads take one lane).
    """
    lanes = 1 if road_class.endswith("_link") else LANES_BY_CLASS.get(road_class, 1)
    per_lane = FREEWAY_CAPACITY_PCPHPL if road_class in FREEWAY_CLASSES else SATURATION_PCPHPL
    return lanes * per_lane


def queue_delay_vh(q: float, s: float, t_h: float) -> float:
    """Return the deterministic queue's vehicle-hours, q*T**2 / (2*(1 - q/s)); inf when q >= s.

    Parameters
    ----------
    q
        Arrival flow, vehicles per hour.
    s
        Saturation flow, vehicles per hour.
    t_h
        How long the road is held, hours.
    """
    if q <= 0.0 or t_h <= 0.0:
        return 0.0
    if q >= s:
        return float("inf")
    return q * t_h * t_h / (2.0 * (1.0 - q / s))


def wait_or_detour(
    rates: NDArray[np.float64], detours_s: NDArray[np.float64], s: float, t_s: float
) -> tuple[NDArray[np.bool_], float]:
    """Return which flows wait at a held approach (the rest detour) and the wait per trip, seconds.

    The wait is the queue's mean, T/(2*(1 - Q/s)), Q the flow of all that wait. Flows are taken
    longest detour first; each joins the queue when its detour is longer than the wait it would
    meet with itself in it. The result is an equilibrium: no flow that waits would rather detour
    (its detour is at least the last joiner's, which beat the final wait) and no flow that
    detours would rather wait (the wait only grew after it was turned away).

    Parameters
    ----------
    rates
        Vehicles per hour of each flow reaching the approach.
    detours_s
        Each flow's detour, seconds (inf: none).
    s
        The approach's saturation flow, vehicles per hour.
    t_s
        How long it is held, seconds.
    """
    waits = np.zeros(len(rates), dtype=bool)
    q = 0.0
    for i in np.argsort(-detours_s, kind="stable").tolist():
        joined = q + float(rates[i])
        if joined < s and detours_s[i] > t_s / (2.0 * (1.0 - joined / s)):
            waits[i] = True
            q = joined
    return waits, t_s / (2.0 * (1.0 - q / s))
