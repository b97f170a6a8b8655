"""Public transport on a frequency-based feed: RAPTOR over a departure window, as R5 does.

The feed (`Timetable`, built from GTFS tables by `timetable_from_gtfs`) has one pattern
per line and direction; trips of a pattern leave its first stop every headway of the
time window they start in. A frequency feed does not say when the trips leave, only how
often, so the wait at a stop depends on the unknown phase of the service. Like R5, a
range query draws a random phase per pattern and window for each departure minute of the
window (``draws`` per minute) and runs RAPTOR for each, giving a distribution of travel
times (`TransitRuns`, with percentiles). Besides that, a deterministic run takes every
wait as half a headway (the mean wait of a passenger who arrives at random) and yields
the journey's legs (`Journey`).

Loops run round twice in a pattern, so a ride may cross the point where a circuit starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from geo._transit import egress_min, raptor, raptor_runs
from geo.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

__all__ = [
    "MAX_RIDES",
    "Journey",
    "Ride",
    "Timetable",
    "TransitEngine",
    "TransitRuns",
    "node_times",
    "parse_clock",
    "percentiles",
    "timetable_from_gtfs",
]

MAX_RIDES = 4  # R5's default most rides of an analysis (AnalysisRequest.maxRides = 4): three changes of line


def parse_clock(text: str, *, label: str) -> int:
    """Return the seconds after midnight of an ``HH:MM`` or ``HH:MM:SS`` time (GTFS allows hours past 24).

    Parameters
    ----------
    text
        The time.
    label
        How the input is named in error messages.
    """
    parts = text.strip().split(":") if isinstance(text, str) else []
    if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() and len(p) <= 2 for p in parts):
        raise InvalidInputError(f"`{label}` must be a time like 08:00 or 08:00:30; got {text!r}.")
    h, m, s = (int(p) for p in [*parts, "0"][:3])
    if h > 47 or m > 59 or s > 59:
        raise InvalidInputError(f"`{label}` must be a time like 08:00 or 08:00:30; got {text!r}.")
    return h * 3600 + m * 60 + s


@dataclass(frozen=True)
class Timetable:
    """A frequency-based feed as arrays.

    Attributes
    ----------
    station_ids, station_names, lon, lat
        The stations (GTFS parent stations).
    transfer_s
        Minimum time to change vehicles at each station, seconds.
    pat_line, pat_headsign
        Each pattern's route id and its last stop's name.
    pat_start
        Where each pattern's positions start in ``pat_stops``/``pat_secs`` (one more at the end).
    pat_stops, pat_secs
        Station index and seconds after the trip leaves its first stop, per position.
    pat_positions
        Positions of one run of the pattern (a loop's second circuit is added after them).
    win_start, win_end
        Service windows, seconds after midnight.
    headway
        Seconds between trips, per pattern and window (inf: no trips).
    """

    station_ids: list[str]
    station_names: list[str]
    lon: NDArray[np.float64] = field(repr=False)
    lat: NDArray[np.float64] = field(repr=False)
    transfer_s: NDArray[np.float64] = field(repr=False)
    pat_line: list[str]
    pat_headsign: list[str]
    pat_start: NDArray[np.int64] = field(repr=False)
    pat_stops: NDArray[np.int32] = field(repr=False)
    pat_secs: NDArray[np.float64] = field(repr=False)
    pat_positions: NDArray[np.int64] = field(repr=False)
    win_start: NDArray[np.float64] = field(repr=False)
    win_end: NDArray[np.float64] = field(repr=False)
    headway: NDArray[np.float64] = field(repr=False)

    @property
    def n_stations(self) -> int:
        """Return how many stations the feed has."""
        return len(self.station_ids)

    def station_index(self) -> dict[str, int]:
        """Return each station id's index."""
        return {s: i for i, s in enumerate(self.station_ids)}


def _hop_graph(tt: Timetable) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float64]]:
    """Return the stations' hops backwards (to, from, fastest seconds of any ride between them) as COO arrays."""
    n = len(tt.pat_stops)
    same = np.ones(n - 1, dtype=bool)
    same[tt.pat_start[1:-1] - 1] = False  # the last position of a pattern and the first of the next
    i = np.flatnonzero(same)
    to, frm = tt.pat_stops[i + 1].astype(np.int64), tt.pat_stops[i].astype(np.int64)
    secs = np.maximum(tt.pat_secs[i + 1] - tt.pat_secs[i], 0.0)
    # One edge per pair, the quickest (a sparse matrix would add up repeated pairs).
    key = to * tt.n_stations + frm
    order = np.lexsort((secs, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]
    return to[keep].astype(np.int32), frm[keep].astype(np.int32), secs[keep]


def _stop_patterns(tt: Timetable) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]]:
    """Per station, the (pattern, position in the pattern) pairs that serve it, as CSR arrays."""
    n_pat = len(tt.pat_line)
    pat_of = np.repeat(np.arange(n_pat, dtype=np.int32), np.diff(tt.pat_start))
    pos = (np.arange(len(tt.pat_stops)) - tt.pat_start[pat_of]).astype(np.int32)
    order = np.lexsort((pos, pat_of, tt.pat_stops))
    counts = np.bincount(tt.pat_stops, minlength=tt.n_stations)
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return start, pat_of[order], pos[order]


def timetable_from_gtfs(tables: dict[str, pd.DataFrame]) -> Timetable:
    """Build the arrays of a frequency-based GTFS feed (stops, trips, stop_times, frequencies, transfers).

    Each trip is a pattern: its stop_times give the positions and the seconds between
    them, its frequencies the headway per window. A trip that ends where it starts is a
    loop and runs round twice. A platform's (location_type 0) station is its parent.

    Parameters
    ----------
    tables
        The feed's tables by file stem (``"stops"``, ``"trips"``, ...), read as strings.
    """
    stops, trips = tables["stops"], tables["trips"]
    stations = stops[stops["location_type"] == "1"].sort_values("stop_id")
    idx = {s: i for i, s in enumerate(stations["stop_id"])}
    plat = stops[stops["location_type"] == "0"]
    parent = {str(a): idx[str(b)] for a, b in zip(plat["stop_id"], plat["parent_station"], strict=True)}
    st = tables["stop_times"].copy()
    st["secs"] = [parse_clock(t, label="stop_times.arrival_time") for t in st["arrival_time"]]
    st["seq"] = st["stop_sequence"].astype(int)
    freq = tables["frequencies"]
    edges = sorted({parse_clock(t, label="start_time") for t in freq["start_time"]} | {
        parse_clock(t, label="end_time") for t in freq["end_time"]})  # fmt: skip
    win_start = np.array(edges[:-1], dtype=np.float64)
    win_end = np.array(edges[1:], dtype=np.float64)
    names = dict(zip(stations["stop_id"], stations["stop_name"], strict=True))
    starts, stops_flat, secs_flat, positions, lines, heads, headways = [0], [], [], [], [], [], []
    by_trip = dict(tuple(st.sort_values(["trip_id", "seq"]).groupby("trip_id")))
    for trip_id, route_id in zip(
        *(trips.sort_values("trip_id")[c].astype(str).tolist() for c in ("trip_id", "route_id")), strict=True
    ):
        rows = by_trip[trip_id]
        s_idx = [parent[s] for s in rows["stop_id"]]
        secs = (rows["secs"] - rows["secs"].iloc[0]).to_numpy(dtype=np.float64)
        positions.append(len(s_idx))
        if s_idx[0] == s_idx[-1] and len(s_idx) > 2:  # a loop: a second circuit, so rides cross the seam
            s_idx = s_idx + s_idx[1:]
            secs = np.concatenate([secs, secs[1:] + secs[-1]])
        stops_flat += s_idx
        secs_flat.append(secs)
        starts.append(starts[-1] + len(s_idx))
        lines.append(route_id)
        heads.append(names[stations["stop_id"].iloc[s_idx[positions[-1] - 1]]])
        h = np.full(len(win_start), np.inf)
        mine = freq[freq["trip_id"] == trip_id]
        for t0, t1, hw in zip(
            *(mine[c].astype(str).tolist() for c in ("start_time", "end_time", "headway_secs")), strict=True
        ):
            a, b = parse_clock(t0, label="start_time"), parse_clock(t1, label="end_time")
            h[(win_start >= a) & (win_end <= b)] = float(hw)
        headways.append(h)
    transfer = np.zeros(len(stations))
    tr = tables.get("transfers")
    if tr is not None and len(tr):
        for frm, secs_txt in zip(
            *(tr[c].astype(str).tolist() for c in ("from_stop_id", "min_transfer_time")), strict=True
        ):
            s = parent.get(frm)
            if s is not None:
                transfer[s] = max(transfer[s], float(secs_txt))
    return Timetable(
        station_ids=list(stations["stop_id"]),
        station_names=list(stations["stop_name"]),
        lon=stations["stop_lon"].to_numpy(dtype=np.float64),
        lat=stations["stop_lat"].to_numpy(dtype=np.float64),
        transfer_s=transfer,
        pat_line=lines,
        pat_headsign=heads,
        pat_start=np.array(starts, dtype=np.int64),
        pat_stops=np.array(stops_flat, dtype=np.int32),
        pat_secs=np.concatenate(secs_flat) if secs_flat else np.empty(0),
        pat_positions=np.array(positions, dtype=np.int64),
        win_start=win_start,
        win_end=win_end,
        headway=np.array(headways, dtype=np.float64).reshape(len(lines), len(win_start)),
    )


@dataclass(frozen=True)
class TransitRuns:
    """Arrival at every station for each departure of a window: seconds after that departure.

    Attributes
    ----------
    departures
        Seconds after midnight of each run (a departure minute, repeated per draw).
    arrive
        ``(stations, runs)`` seconds from departure to arrival by vehicle (inf: not reached).
    """

    departures: NDArray[np.float64]
    arrive: NDArray[np.float64] = field(repr=False)


@dataclass(frozen=True)
class Ride:
    """One ride of a journey: a pattern from one position to another."""

    pattern: int
    board_pos: int  # absolute positions in the timetable's pattern arrays
    alight_pos: int
    board_s: float  # seconds after midnight
    alight_s: float


@dataclass(frozen=True)
class Journey:
    """The rides of a deterministic (half-headway wait) journey, from leaving the origin."""

    departure_s: float
    rides: list[Ride]
    access_station: int
    egress_station: int
    arrival_s: float  # at the egress station


@dataclass(frozen=True)
class Destination:
    """Where runs of `TransitEngine.runs` go, when they go to one place."""

    egress_s: NDArray[np.float64]  # the walk from each station to it (inf: none)
    known: Journey | None = None  # a journey there (the half-headway one): each run first times its rides


class TransitEngine:
    """RAPTOR over a `Timetable`.

    Parameters
    ----------
    timetable
        The feed's arrays.
    max_rides
        The most rides of a journey.
    """

    def __init__(self, timetable: Timetable, *, max_rides: int = MAX_RIDES) -> None:
        self.tt = timetable
        self.max_rides = max_rides
        self._stop_pat_start, self._stop_pat, self._stop_pos = _stop_patterns(timetable)
        self._no_phase = np.zeros_like(timetable.headway)
        self._rec0 = np.empty((1, 1))
        self._hops = _hop_graph(timetable)
        self._via0 = np.empty((1, 1, 4), dtype=np.int32)

    def _lower(self, egress_s: NDArray[np.float64] | None) -> NDArray[np.float64]:
        """Return per station a lower bound of the seconds to the place ``egress_s`` leads to.

        Riding with no wait and no change (the quickest hops of any line, closed stations
        passed as if open), then the walk.
        """
        n = self.tt.n_stations
        if egress_s is None or not np.isfinite(egress_s).any():
            return np.zeros(n)
        ends = np.flatnonzero(np.isfinite(egress_s))
        rows, cols, secs = self._hops
        graph = sp.csr_matrix(
            (
                np.concatenate([secs + 1e-9, egress_s[ends] + 1e-9]),  # explicit zeros would be no edge
                (np.concatenate([rows, np.full(len(ends), n)]), np.concatenate([cols, ends])),
            ),
            shape=(n + 1, n + 1),
        )
        lower = dijkstra(graph, indices=n)[:n] - 1e-6 * (self.max_rides + 2)
        return np.ascontiguousarray(np.where(np.isfinite(lower), np.maximum(lower, 0.0), np.inf))

    def _closed(self, closed: NDArray[np.bool_] | None) -> NDArray[np.uint8]:
        if closed is None:
            return np.zeros(self.tt.n_stations, dtype=np.uint8)
        return np.ascontiguousarray(closed, dtype=np.uint8)

    def _run(
        self,
        ready: NDArray[np.float64],
        phase: NDArray[np.float64],
        *,
        half: bool,
        closed: NDArray[np.uint8],
        cutoff: float,
        record: tuple[NDArray[np.float64], NDArray[np.int32]] | None = None,
    ) -> NDArray[np.float64]:
        tt = self.tt
        best = np.empty(tt.n_stations)
        arr_round, via = record if record is not None else (self._rec0, self._via0)
        raptor(
            ready, tt.pat_start, tt.pat_stops, tt.pat_secs, self._stop_pat_start, self._stop_pat, self._stop_pos,
            tt.win_start, tt.win_end, tt.headway, phase, int(half), tt.transfer_s, closed, self.max_rides, cutoff,
            best, arr_round, via, int(record is not None),
        )  # fmt: skip
        return best

    def arrivals(
        self,
        access_s: NDArray[np.float64],
        *,
        departure_s: float,
        phase: NDArray[np.float64],
        limit_s: float,
        closed: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.float64]:
        """Return the earliest arrival (seconds after midnight) at every station for given service phases.

        Parameters
        ----------
        access_s
            Seconds to reach each station on foot (inf: not within the walk).
        departure_s
            When the traveller leaves, seconds after midnight.
        phase
            Per pattern and window, when its first trip leaves after the window opens, seconds.
        limit_s
            Ignore arrivals later than this many seconds after departure.
        closed
            Stations shut, or None.
        """
        ph = np.ascontiguousarray(phase, dtype=np.float64)
        if ph.shape != self.tt.headway.shape:
            raise InvalidInputError(f"`phase` must have shape {self.tt.headway.shape}; got {ph.shape}.")
        return self._run(
            departure_s + access_s, ph, half=False, closed=self._closed(closed), cutoff=departure_s + limit_s
        )

    def runs(
        self,
        access_s: NDArray[np.float64],
        *,
        start_s: float,
        window_min: int,
        draws: int,
        limit_s: float,
        closed: NDArray[np.bool_] | None = None,
        seed: int = 0,
        to: Destination | None = None,
    ) -> TransitRuns:
        """Return the arrivals at every station for each minute of a window and each random draw.

        Parameters
        ----------
        access_s
            Seconds to reach each station on foot (inf: not within the walk).
        start_s
            The window's first departure, seconds after midnight.
        window_min
            The window's length, minutes (one departure a minute).
        draws
            Random phases per departure minute.
        limit_s
            Ignore arrivals later than this many seconds after departure.
        closed
            Stations shut (passed through: nobody boards or alights), or None.
        seed
            The random phases' seed (the same answer for the same request).
        to
            For a trip to one place: arrivals that cannot beat the best trip to it found are
            then not kept (only ``arrive + to.egress_s`` minimised over stations is exact).
            None: every station's arrival is exact.
        """
        tt = self.tt
        shut = self._closed(closed)
        rng = np.random.default_rng(seed)
        deps = np.repeat(start_s + 60.0 * np.arange(window_min), draws).astype(np.float64)
        out = np.empty((tt.n_stations, len(deps)))
        finite = np.where(np.isfinite(tt.headway), tt.headway, 0.0)
        phases = np.ascontiguousarray(rng.random((len(deps), *tt.headway.shape)) * finite[None])
        path = np.zeros((0, 3), dtype=np.int32)
        path_egress = 0.0
        egress_s = to.egress_s if to is not None else None
        if to is not None and to.known is not None and to.known.rides:
            path = np.array([(r.pattern, r.board_pos, r.alight_pos) for r in to.known.rides], dtype=np.int32)
            path_egress = float(to.egress_s[to.known.egress_station])
        raptor_runs(
            np.ascontiguousarray(access_s, dtype=np.float64), deps, tt.pat_start, tt.pat_stops, tt.pat_secs,
            self._stop_pat_start, self._stop_pat, self._stop_pos, tt.win_start, tt.win_end, tt.headway, phases,
            tt.transfer_s, shut, self.max_rides, float(limit_s), out,
            np.ascontiguousarray(egress_s if egress_s is not None else np.empty(1), dtype=np.float64),
            self._lower(egress_s), int(egress_s is not None), path, path_egress,
        )  # fmt: skip
        return TransitRuns(deps, out)

    def journey(
        self,
        access_s: NDArray[np.float64],
        egress_s: NDArray[np.float64],
        *,
        departure_s: float,
        limit_s: float,
        closed: NDArray[np.bool_] | None = None,
    ) -> Journey | None:
        """Return the quickest journey with half-headway waits from the stations reached to the egress, or None.

        Parameters
        ----------
        access_s
            Seconds to reach each station on foot from the origin (inf: not within the walk).
        egress_s
            Seconds from each station on foot to the destination (inf: not within the walk).
        departure_s
            When the traveller leaves, seconds after midnight.
        limit_s
            Ignore journeys longer than this many seconds.
        closed
            Stations shut, or None.
        """
        tt = self.tt
        arr_round = np.full((self.max_rides + 1, tt.n_stations), np.inf)
        via = np.full((self.max_rides + 1, tt.n_stations, 4), -1, dtype=np.int32)
        self._run(
            departure_s + access_s, self._no_phase, half=True, closed=self._closed(closed),
            cutoff=departure_s + limit_s, record=(arr_round, via),
        )  # fmt: skip
        total = arr_round + egress_s[None, :]
        if not np.isfinite(total).any():
            return None
        k0, s0 = np.unravel_index(int(np.argmin(total)), total.shape)
        k, s = int(k0), int(s0)
        arrival = float(arr_round[k, s])
        egress_station = int(s)
        rides: list[Ride] = []
        while k > 0:
            p, b, a, prev = (int(v) for v in via[int(k), int(s)])
            board_s = float(arr_round[k, s]) - (tt.pat_secs[a] - tt.pat_secs[b])
            rides.append(Ride(p, b, a, board_s, float(arr_round[k, s])))
            s, k = int(tt.pat_stops[b]), prev
        rides.reverse()
        return Journey(departure_s, rides, int(s), egress_station, arrival)

    def stations_between(self, ride: Ride) -> list[int]:
        """Return the stations a ride passes, boarding and alighting ones included.

        Parameters
        ----------
        ride
            A ride of a journey.
        """
        return [int(s) for s in self.tt.pat_stops[ride.board_pos : ride.alight_pos + 1]]


def node_times(
    runs: TransitRuns,
    egress: tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]],
    n_nodes: int,
) -> NDArray[np.float32]:
    """Return ``(nodes, runs)`` seconds from departure to each walk-network node by transit and a walk.

    Parameters
    ----------
    runs
        The station arrivals of each run.
    egress
        Per station, the nodes its walk reaches and the seconds (CSR: indptr, nodes, seconds).
    n_nodes
        How many nodes the walk network has.
    """
    out = np.full((n_nodes, runs.arrive.shape[1]), np.inf, dtype=np.float32)
    indptr, nodes, secs = egress
    egress_min(np.ascontiguousarray(runs.arrive), indptr, nodes, secs, out)
    return out


def percentiles(times: NDArray[np.float32], qs: tuple[int, ...]) -> dict[int, NDArray[np.float64]]:
    """Return per row the ``qs`` percentiles (lower, as R5 reports them) of the runs' times; inf stays inf.

    Parameters
    ----------
    times
        ``(rows, runs)`` seconds.
    qs
        Percentiles, 1 to 99.
    """
    n = times.shape[1]
    if not n:
        raise InvalidInputError("no runs to take percentiles of.")
    ks = sorted({min(n - 1, int(np.ceil(q / 100.0 * n)) - 1) for q in qs})
    part = np.partition(times, ks, axis=1)
    return {q: part[:, min(n - 1, int(np.ceil(q / 100.0 * n)) - 1)].astype(np.float64) for q in qs}
