"""Public transport as a service: the modelled subway feed, walks to its entrances, routes and reach.

The feed (seeds/subway_gtfs/) is modelled from raw item 4: times are not timetabled
(`layers.seedbuild.transit`). Walking to and from the stations uses the walk network of
the 2013 roads, which has no footpaths inside parks; a place outside that network, or
with no station within the longest walk, gets a clear error, and a station never appears
that the data does not have.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo.crs import distance_m
from geo.errors import InvalidInputError, NoRouteError, OutsideCoverageError
from geo.network import WALK_SPEED_KPH
from geo.stationwalks import StationWalks, Walk
from geo.transit import (
    Destination,
    Journey,
    TransitEngine,
    TransitRuns,
    node_times,
    parse_clock,
    percentiles,
    timetable_from_gtfs,
)
from layers.diskcache import load_or_build
from layers.routing import check_matrix_size

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

    from geo.isochrones import Reach, ReachIndex
    from geo.routes import Route
    from layers.networks import RoadNetwork
    from layers.routing import Place, ResolvedPlace, RoutingService

__all__ = ["MAX_WALK_MIN", "PERCENTILES", "TransitAnswer", "TransitMatrix", "TransitQuery", "TransitService", "Window"]

MAX_WALK_MIN = 20.0  # the longest walk to or from a station (R5's AnalysisRequest.maxWalkTime = 20)
MONTE_CARLO_DRAWS = 200  # random phase draws over a window (R5's AnalysisRequest.monteCarloDraws = 200)
MAX_WINDOW_MIN = 180  # a departure window of at most 3 hours (issue 24's bound on bad input; a limit, not data)
# An entrance farther than this from the walk network is not used. No source: the project's choice (the
# site-access bound of the road data, 300 m), not a measured figure (manual ▸ Public transport).
ENTRANCE_SNAP_M = 300.0  # no source: a stated choice, not data
PERCENTILES = (50, 90)  # the travel-time percentiles offered (R5 reports chosen percentiles of its draws)
DEFAULT_DEPARTURE = "08:00"  # a weekday morning peak hour (a default, not data)
_EGRESS_CACHE_VERSION = "1"  # bump when the egress table's construction or layout changes
FEED_FILES = ("stops", "trips", "stop_times", "frequencies", "transfers", "routes")


@dataclass(frozen=True)
class Window:
    """A departure window: the first departure (seconds after midnight) and its length in minutes."""

    start_s: int
    minutes: int

    @classmethod
    def parse(cls, start: str, minutes: int) -> Window:
        """Return a checked window.

        Parameters
        ----------
        start
            The first departure, ``HH:MM``.
        minutes
            The window's length, 1 to 180 minutes.
        """
        s = parse_clock(start, label="departure")
        if s >= 24 * 3600:
            raise InvalidInputError(f"`departure` must be before 24:00; got {start!r}.")
        if not isinstance(minutes, int) or not 1 <= minutes <= MAX_WINDOW_MIN:
            raise InvalidInputError(f"`window_min` must be 1 to {MAX_WINDOW_MIN} minutes; got {minutes!r}.")
        return cls(s, minutes)

    @property
    def draws(self) -> int:
        """Random phase draws per departure minute (about `MONTE_CARLO_DRAWS` over the window)."""
        return max(1, -(-MONTE_CARLO_DRAWS // self.minutes))

    def label(self) -> str:
        """Return the window as ``HH:MM-HH:MM``."""
        end = self.start_s + 60 * self.minutes
        return f"{self.start_s // 3600:02d}:{self.start_s % 3600 // 60:02d}-{end // 3600:02d}:{end % 3600 // 60:02d}"


@dataclass(frozen=True)
class TransitQuery:
    """What a transit reach is computed for: the window, the percentile of its runs, stations shut."""

    window: Window = Window(8 * 3600, 60)
    percentile: int = 50
    closed_stations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.percentile not in PERCENTILES:
            raise InvalidInputError(
                f"`percentile` must be one of {', '.join(map(str, PERCENTILES))}; got {self.percentile!r}."
            )


@dataclass(frozen=True)
class TransitMatrix:
    """Door-to-door seconds by percentile (NaN rows or columns: places off the walk network, with why)."""

    seconds: dict[int, NDArray[np.float64]]
    origins: list[ResolvedPlace | None]
    destinations: list[ResolvedPlace | None]
    network: RoadNetwork
    unresolved: list[tuple[str, int, str]]


@dataclass(frozen=True)
class TransitAnswer:
    """A transit trip between two places: the distribution over the window and the legs of the mean-wait journey."""

    origin: ResolvedPlace
    destination: ResolvedPlace
    window: Window
    totals_s: NDArray[np.float64]  # per run: door to door, seconds
    walk_only_s: float  # inf if no walk joins them
    walk_route: Route | None  # the walk alone (drawn when it is the quicker)
    journey: Journey | None
    journey_total_s: float
    access: Walk
    egress: Walk

    def percentile(self, q: int) -> float:
        """Return the q-th percentile (nearest rank) of the door-to-door time, seconds.

        Parameters
        ----------
        q
            The percentile, 1 to 99.
        """
        return float(percentiles(self.totals_s[None, :].astype(np.float32), (q,))[q][0])


class TransitService:
    """Routes, matrices and reach by walking and the subway.

    Parameters
    ----------
    seeds_dir
        The shipped data folder (holds subway_gtfs/ and subway_lines.json).
    routing
        The routing service (places, the walk network and its engine).
    """

    def __init__(self, seeds_dir: Path, routing: RoutingService) -> None:
        self.seeds_dir = seeds_dir
        self.routing = routing
        self._lock = threading.Lock()
        self._walks: dict[str, StationWalks] = {}
        self._egress: dict[str, tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]] = {}

    # -- the feed ----------------------------------------------------------------------

    @cached_property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the feed's tables, read as strings."""
        folder = self.seeds_dir / "subway_gtfs"
        if not folder.is_dir():
            raise OutsideCoverageError(f"no subway feed in {self.seeds_dir} (subway_gtfs/); rebuild the seeds.")
        return {
            n: pd.read_csv(folder / f"{n}.txt", dtype=str, keep_default_na=False) for n in (*FEED_FILES, "feed_info")
        }

    @cached_property
    def engine(self) -> TransitEngine:
        """Return the RAPTOR engine of the feed."""
        return TransitEngine(timetable_from_gtfs(self.tables))

    @cached_property
    def lines(self) -> dict[str, Any]:
        """Return subway_lines.json: the lines, their stations and the stations missing from the data."""
        doc: dict[str, Any] = json.loads((self.seeds_dir / "subway_lines.json").read_text(encoding="utf-8"))
        return doc

    @cached_property
    def routes(self) -> dict[str, dict[str, str]]:
        """Return each line's name and colour by route id."""
        r = self.tables["routes"]
        return {
            str(i): {"name": str(n), "colour": "#" + str(c)}
            for i, n, c in zip(r["route_id"], r["route_short_name"], r["route_color"], strict=True)
        }

    @cached_property
    def missing_near(self) -> dict[str, list[dict[str, str]]]:
        """Return, per station name, the missing stations next to it on some line."""
        out: dict[str, list[dict[str, str]]] = {}
        for ln in self.lines["lines"]:
            for gap in ln["missing"]:
                for side in ("after", "before"):
                    out.setdefault(gap[side], []).append({"line": ln["name"], "code": gap["code"], **gap})
        return out

    @cached_property
    def entrances(self) -> pd.DataFrame:
        """Return the entrances (location_type 2) with their station index; a station with none, at its own position."""
        stops = self.tables["stops"]
        idx = self.engine.tt.station_index()
        en = stops[stops["location_type"] == "2"]
        rows = pd.DataFrame(
            {
                "name": en["stop_name"].to_numpy(),
                "station": en["parent_station"].map(idx).to_numpy(),
                "lon": en["stop_lon"].astype(float).to_numpy(),
                "lat": en["stop_lat"].astype(float).to_numpy(),
                "own_position": False,
            }
        ).dropna(subset=["station"])
        tt = self.engine.tt
        none = sorted(set(range(tt.n_stations)) - set(rows["station"].astype(int)))
        extra = pd.DataFrame(
            {
                "name": [tt.station_names[i] for i in none],
                "station": none,
                "lon": tt.lon[none],
                "lat": tt.lat[none],
                "own_position": True,
            }
        )
        out = pd.concat([rows, extra], ignore_index=True)
        out["station"] = out["station"].astype(np.int64)
        return out

    # -- walks -------------------------------------------------------------------------

    def walk_network(self, place: ResolvedPlace | None = None) -> RoadNetwork:
        """Return the walk network the subway is reached on (the place's, or the one holding most stations).

        Parameters
        ----------
        place
            A place resolved on a walk network, or None.
        """
        if place is not None:
            return place.network
        nets = self.routing.networks.all("walk")
        if not nets:
            raise OutsideCoverageError("no walk network is loaded; transit needs one to reach the stations.")
        tt = self.engine.tt
        return max(nets, key=lambda n: sum(n.covers(float(x), float(y)) for x, y in zip(tt.lon, tt.lat, strict=True)))

    def walks(self, net: RoadNetwork) -> StationWalks:
        """Return the station entrances of a walk network, snapped on first use.

        Parameters
        ----------
        net
            A walk network.
        """
        with self._lock:
            if net.name not in self._walks:
                en = self.entrances
                snaps = []
                for lon, lat in zip(en["lon"].to_numpy(dtype=float), en["lat"].to_numpy(dtype=float), strict=True):
                    try:
                        ok = net.covers(float(lon), float(lat))
                        snaps.append(
                            net.edge_index.snap(float(lon), float(lat), max_distance_m=ENTRANCE_SNAP_M) if ok else None
                        )
                    except OutsideCoverageError:
                        snaps.append(None)
                engine = self.routing.engine(net)
                self._walks[net.name] = StationWalks(
                    engine, snaps, en["station"].to_numpy(), self.engine.tt.n_stations, WALK_SPEED_KPH / 3.6
                )
            return self._walks[net.name]

    def egress_table(self, net: RoadNetwork) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
        """Return every station's walk to the nodes around it (seconds), built on first use.

        Parameters
        ----------
        net
            A walk network.
        """
        with self._lock:
            got = self._egress.get(net.name)
        if got is None:
            # Kept on disk beside the graph (0.11 s of a warm start to rebuild), named by the
            # graph, the shipped data, the walk's constants and this code; memory-mapped.
            stamp = hashlib.sha256(
                repr((self._data_stamp, MAX_WALK_MIN, ENTRANCE_SNAP_M, WALK_SPEED_KPH)).encode()
            ).hexdigest()[:12]
            path = (
                net.cache_dir / f"{net.cache_key}.egress-{stamp}-v{_EGRESS_CACHE_VERSION}.pkl"
                if net.cache_dir is not None and net.cache_key
                else None
            )
            built = load_or_build(
                path,
                lambda: self.walks(net).egress_table(limit_s=MAX_WALK_MIN * 60.0),
                mapped=True,
                supersedes=f"{net.cache_key}.egress-*.pkl",
            )
            with self._lock:
                got = self._egress.setdefault(net.name, built)
        return got

    @cached_property
    def _data_stamp(self) -> bytes:
        """The shipped data's manifest (its files' hashes): tables kept on disk change with it."""
        manifest = self.seeds_dir / "manifest.json"
        return manifest.read_bytes() if manifest.is_file() else b""

    def closed_stations(self, names: tuple[str, ...] | list[str]) -> NDArray[np.bool_] | None:
        """Return the mask of stations shut (by name), or None for none; an unknown name is an error.

        Parameters
        ----------
        names
            Station names as in the feed.
        """
        if not names:
            return None
        tt = self.engine.tt
        by_name = {n: i for i, n in enumerate(tt.station_names)}
        mask = np.zeros(tt.n_stations, dtype=bool)
        for n in names:
            if n not in by_name:
                raise InvalidInputError(f"`closures.stations`: no station named {n!r} in the subway feed.")
            mask[by_name[n]] = True
        return mask

    # -- queries -------------------------------------------------------------------------

    def resolve(self, place: Place, *, label: str) -> ResolvedPlace:
        """Return a place resolved on the walk network, with a clear error when walking there is not modelled.

        Parameters
        ----------
        place
            A ``(lon, lat)`` pair, a site id or a site name.
        label
            How the input is named in error messages.
        """
        try:
            return self.routing.resolve(place, mode="walk", label=label)
        except OutsideCoverageError as exc:
            lon, lat = self._position(place)
            tt = self.engine.tt
            d = distance_m(lon, lat, tt.lon, tt.lat)
            i = int(np.argmin(d))
            raise OutsideCoverageError(
                f"{exc} Transit is reached on foot, and walking is modelled only on the walk network; the nearest "
                f"subway station, {tt.station_names[i]}, is {d[i] / 1000:.1f} km away in a straight line."
            ) from exc

    def _position(self, place: Place) -> tuple[float, float]:
        if isinstance(place, str):
            site = self.routing.sites.get(place)
            return float(site.lon), float(site.lat)
        return float(place[0]), float(place[1])

    def _access(self, p: ResolvedPlace, *, reverse: bool) -> Walk:
        walks = self.walks(p.network)
        limit = MAX_WALK_MIN * 60.0
        gap = p.snap.distance_m / (WALK_SPEED_KPH / 3.6)
        w = walks.to_place(p.snap, limit_s=limit) if reverse else walks.from_place(p.snap, limit_s=limit)
        seconds = w.seconds + gap
        seconds[seconds > limit] = np.inf
        return Walk(seconds, w.entrance, w.node_s + gap)

    def walk_alone_note(self, place: Place) -> str | None:
        """Return why a place's transit bands are walking alone (no station within the longest walk), else None.

        Parameters
        ----------
        place
            The place the bands are drawn from.
        """
        p = self.resolve(place, label="origin")
        if np.isfinite(self._access(p, reverse=False).seconds).any():
            return None
        return (
            f"No subway station is within {MAX_WALK_MIN:g} minutes' walk of {p.label} on the walk network, so its "
            "transit bands are the walk alone (see the walking-in-parks note)."
        )

    def no_station_error(
        self, p: ResolvedPlace, *, side: str, walk_only_s: float = np.inf, closed: NDArray[np.bool_] | None = None
    ) -> NoRouteError:
        """Return the error of a place with no station within the longest walk.

        Parameters
        ----------
        p
            The place.
        side
            ``"from"`` or ``"to"``, for the message.
        walk_only_s
            The walk alone between the two places, seconds (inf: none), named in the message.
        closed
            Stations shut (not counted as the nearest), or None.
        """
        tt = self.engine.tt
        d = distance_m(p.snap.lon, p.snap.lat, tt.lon, tt.lat)
        if closed is not None:
            d = np.where(closed, np.inf, d)
        i = int(np.argmin(d))
        return NoRouteError(
            f"no open subway station is within {MAX_WALK_MIN:g} minutes' walk {side} {p.label}; the nearest, "
            f"{tt.station_names[i]}, is {d[i] / 1000:.1f} km away in a straight line (walking inside parks is not "
            "modelled: the 2013 roads have no footpaths). "
            + (f"The walk alone takes {walk_only_s / 60:.0f} min (mode walk)." if np.isfinite(walk_only_s) else "")
        )

    def route(
        self,
        origin: Place,
        destination: Place,
        *,
        window: Window,
        closed: NDArray[np.bool_] | None = None,
        limit_min: float = 180.0,
    ) -> TransitAnswer:
        """Return the door-to-door times over a departure window and the legs of the mean-wait journey.

        Parameters
        ----------
        origin
            Where the trip starts.
        destination
            Where it ends.
        window
            The departure window.
        closed
            Stations shut (passed through), or None.
        limit_min
            Ignore trips longer than this, minutes.
        """
        a = self.resolve(origin, label="origin")
        b = self.resolve(destination, label="destination")
        if (a.site_id is not None and a.site_id == b.site_id) or a.snap == b.snap:
            raise InvalidInputError(f"`origin` and `destination` are the same place ({a.label}); give two places.")
        if a.network.name != b.network.name:
            raise OutsideCoverageError(f"{a.label} and {b.label} lie on different walk networks; no route joins them.")
        acc = self._access(a, reverse=False)
        egr = self._access(b, reverse=True)
        walk_route, walk_only = self._walk_only(a, b)
        if closed is not None:
            acc = Walk(np.where(closed, np.inf, acc.seconds), acc.entrance, acc.node_s)
            egr = Walk(np.where(closed, np.inf, egr.seconds), egr.entrance, egr.node_s)
        for walk, p, side in ((acc, a, "from"), (egr, b, "to")):
            if not np.isfinite(walk.seconds).any() and walk_only > MAX_WALK_MIN * 60.0:
                raise self.no_station_error(p, side=side, walk_only_s=walk_only, closed=closed)
        limit = limit_min * 60.0
        journey = self.engine.journey(
            acc.seconds, egr.seconds, departure_s=float(window.start_s), limit_s=limit, closed=closed
        )
        j_total = float(journey.arrival_s - window.start_s + egr.seconds[journey.egress_station]) if journey else np.inf
        # No run needs an arrival later than the walk alone (+ a second) or the journey's own rides with
        # that run's waits: bounds from the start that spare the runs most of the network, same answer.
        runs = self.engine.runs(
            acc.seconds, start_s=window.start_s, window_min=window.minutes, draws=window.draws,
            limit_s=min(limit, walk_only + 1.0), closed=closed, to=Destination(egr.seconds, journey),
        )  # fmt: skip
        totals = np.min(runs.arrive + egr.seconds[:, None], axis=0)
        totals = np.minimum(totals, walk_only)
        if not np.isfinite(totals).any() and not np.isfinite(j_total):
            raise NoRouteError(
                f"no trip by walking and the subway joins {a.label} and {b.label} within {limit_min:g} minutes "
                f"departing {window.label()}."
            )
        return TransitAnswer(a, b, window, totals, walk_only, walk_route, journey, j_total, acc, egr)

    def _walk_only(self, a: ResolvedPlace, b: ResolvedPlace) -> tuple[Route | None, float]:
        """Return the walk alone from ``a`` to ``b`` and its seconds (the network's fastest route and both gaps)."""
        try:
            route = self.routing.engine(a.network).route(a.snap, b.snap, metric="fastest")
        except NoRouteError:
            return None, np.inf
        return route, float(route.cost()) + (a.snap.distance_m + b.snap.distance_m) / (WALK_SPEED_KPH / 3.6)

    def matrix(
        self,
        origins: list[Place],
        destinations: list[Place],
        *,
        window: Window,
        closed: NDArray[np.bool_] | None = None,
    ) -> TransitMatrix:
        """Return the door-to-door seconds (p50 and p90 over the window) from every origin to every destination.

        A place off the walk network gets a NaN row or column and its reason (as the road
        matrix does); unreachable cells are inf.

        Parameters
        ----------
        origins
            The places trips start from.
        destinations
            The places trips end at.
        window
            The departure window.
        closed
            Stations shut, or None.
        """
        check_matrix_size(origins, destinations, limits=self.routing.limits)
        unresolved: list[tuple[str, int, str]] = []

        def resolve(side: str, i: int, place: Place) -> ResolvedPlace | None:
            try:
                return self.resolve(place, label=f"{side}[{i}]")
            except OutsideCoverageError as exc:
                unresolved.append((side, i, str(exc)))
                return None

        ro = [resolve("origins", i, p) for i, p in enumerate(origins)]
        rd = [resolve("destinations", i, p) for i, p in enumerate(destinations)]
        oi = [i for i, p in enumerate(ro) if p is not None]
        di = [j for j, p in enumerate(rd) if p is not None]
        if not oi or not di:
            raise OutsideCoverageError(
                "no origin or no destination of the matrix lies on the walk network: "
                + " ".join(m for _, _, m in unresolved[:3])
            )
        ok_o = [p for p in ro if p is not None]
        ok_d = [p for p in rd if p is not None]
        out = {q: np.full((len(ro), len(rd)), np.nan) for q in PERCENTILES}
        sub = self._matrix(ok_o, ok_d, window=window, closed=closed)
        for q in PERCENTILES:
            out[q][np.ix_(oi, di)] = sub[q]
        return TransitMatrix(out, ro, rd, ok_o[0].network, unresolved)

    def _matrix(
        self, ro: list[ResolvedPlace], rd: list[ResolvedPlace], *, window: Window, closed: NDArray[np.bool_] | None
    ) -> dict[int, NDArray[np.float64]]:
        nets = {p.network.name for p in ro + rd}
        if len(nets) > 1:
            raise OutsideCoverageError(f"the places lie on several walk networks ({', '.join(sorted(nets))}).")
        per = 1.0 / (WALK_SPEED_KPH / 3.6)
        walk = self.routing.engine(ro[0].network).matrix([p.snap for p in ro], [p.snap for p in rd], metric="fastest")
        walk = walk + np.array([p.snap.distance_m for p in ro])[:, None] * per
        walk = walk + np.array([p.snap.distance_m for p in rd])[None, :] * per
        egress = np.array([self._access(p, reverse=True).seconds for p in rd])  # (D, S)
        if closed is not None:
            egress[:, closed] = np.inf
        d_idx, s_idx = np.nonzero(np.isfinite(egress))
        starts = np.searchsorted(d_idx, np.arange(len(rd)))
        has = np.isin(np.arange(len(rd)), d_idx)
        out = {q: np.full((len(ro), len(rd)), np.inf) for q in PERCENTILES}
        for i, p in enumerate(ro):
            runs, _ = self.station_runs(p, window=window, limit_min=MAX_WINDOW_MIN, closed=closed)
            best = np.full((len(rd), runs.arrive.shape[1]), np.inf)
            if len(d_idx):
                vals = runs.arrive[s_idx] + egress[d_idx, s_idx][:, None]
                best[has] = np.minimum.reduceat(vals, starts[has], axis=0)
            best = np.minimum(best, walk[i][:, None])
            qs = percentiles(best.astype(np.float32), PERCENTILES)
            for q in PERCENTILES:
                out[q][i] = qs[q]
        return out

    def station_runs(
        self, place: ResolvedPlace, *, window: Window, limit_min: float, closed: NDArray[np.bool_] | None = None
    ) -> tuple[TransitRuns, Walk]:
        """Return the arrivals at every station for each run of the window, and the walk from the place.

        Parameters
        ----------
        place
            The origin, resolved on the walk network.
        window
            The departure window.
        limit_min
            Ignore arrivals later than this, minutes.
        closed
            Stations shut, or None.
        """
        acc = self._access(place, reverse=False)
        if closed is not None:
            acc = Walk(np.where(closed, np.inf, acc.seconds), acc.entrance, acc.node_s)
        runs = self.engine.runs(
            acc.seconds, start_s=window.start_s, window_min=window.minutes, draws=window.draws,
            limit_s=limit_min * 60.0, closed=closed,
        )  # fmt: skip
        return runs, acc

    def reach(self, place: ResolvedPlace, index: ReachIndex, *, limit_min: float, query: TransitQuery) -> Reach:
        """Return the travel minutes by walking and the subway from a place, at a percentile of the window's runs.

        A node's time is, per run, the quicker of the walk alone and the best station
        reached plus the walk from it; the percentile is taken over the runs (R5's method).

        Parameters
        ----------
        place
            The origin, resolved on the walk network.
        index
            The walk network's reach index (`layers.coverage.CoverageService.index`).
        limit_min
            Stop at this many minutes.
        query
            The window, the percentile and the stations shut.
        """
        closed = self.closed_stations(query.closed_stations)
        runs, _acc = self.station_runs(place, window=query.window, limit_min=limit_min, closed=closed)
        walk = index.node_seconds([place.snap], limit_s=limit_min * 60.0)
        times = node_times(runs, self.egress_table(place.network), len(walk))
        node_s = np.minimum(percentiles(times, (query.percentile,))[query.percentile], walk)
        node_s[node_s > limit_min * 60.0] = np.inf
        return index.reach_nodes(node_s, [place.snap], limit_min=limit_min)
