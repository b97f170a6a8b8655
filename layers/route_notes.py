"""What a route answer says besides the route: access legs, networks used, walking caveats.

The notes half of the routing service (`layers.routing.RoutingService` inherits it): how
far a place lies from its network, which networks a route crossed and how precise each is,
and where walking inside a site is not modelled (the 2013 roads have no footpaths).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
import shapely.ops

from geo.crs import lonlat_to_utm, utm_to_lonlat
from geo.network import CONNECTOR_CLASS, REGIONAL_CLASS, WALK_SPEED_KPH, check_mode
from geo.regional import Calibration
from geo.routing import Route
from layers.networks import REGIONAL_CALIBRATION_FILE, NetworkStore, RoadNetwork
from layers.regional import POSITION_PRECISION_M, precision_note, read_calibration

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from layers.places import ResolvedPlace
    from layers.sites import SiteCatalog

__all__ = [
    "ACCESS_WARN_M",
    "FOOTPATH_HINT",
    "SPARSE_WALK_KM_PER_KM2",
    "AccessLeg",
    "NetworkLeg",
    "RouteNotes",
    "WalkDensity",
]

ACCESS_WARN_M = 100.0  # an access leg longer than this gets a warning
# Walkable network inside a site below this (km of street per km², each street counted
# once) means walking inside it is not modelled: central Beijing's street blocks have
# 8-20 km/km², the Summer Palace in the 2013 roads has almost none.
SPARSE_WALK_KM_PER_KM2 = 2.0
WALK_INSET_M = 50.0  # ways are counted this far inside a site's boundary
SPARSE_WALK_MIN_KM2 = 0.05  # smaller sites are crossed in a minute either way
FOOTPATH_HINT = (
    "import a current OpenStreetMap extract that has the footpaths (`venue-planner networks import FILE.osm.pbf`, "
    "or `venue-planner networks fetch --site ID` where the internet is reachable)"
)


# A site on the regional network may lie this far from its access chord (positions are


@dataclass(frozen=True)
class NetworkLeg:
    """A stretch of a route on one network: the detailed roads, or the regional skeleton."""

    network: str
    regional: bool
    length_m: float
    travel_time_s: float
    precision: str | None  # for the regional skeleton: how far its figures can be trusted


@dataclass(frozen=True)
class AccessLeg:
    """The straight stretch between a place and the road where it meets the network.

    Attributes
    ----------
    end
        ``"origin"`` or ``"destination"`` (or ``"stops[i]"``).
    distance_m
        Its length: from the point to the road, or from a site's boundary to the road.
    travel_time_s
        Walking time at `geo.network.WALK_SPEED_KPH` for walk routes (counted in the
        route's totals); None for driving (no road is known there).
    coords
        The stretch as two lon/lat points in the direction of travel (equal when 0 m).
    """

    end: str
    distance_m: float
    travel_time_s: float | None
    coords: tuple[tuple[float, float], tuple[float, float]]

    def warning(self, mode: str) -> str | None:
        """Return the warning for a leg longer than `ACCESS_WARN_M`, else None.

        Parameters
        ----------
        mode
            ``"drive"`` or ``"walk"``.
        """
        if self.distance_m <= ACCESS_WARN_M:
            return None
        how = (
            f"walked in a straight line at {WALK_SPEED_KPH:g} km/h and counted in the totals"
            if self.travel_time_s is not None
            else "not counted in the totals (no road of the network is known there)"
        )
        return f"the {self.end} is {self.distance_m:.0f} m from the nearest road of the {mode} network; that stretch is {how}."


@dataclass(frozen=True)
class WalkDensity:
    """How much walkable network lies inside a site's boundary."""

    site_id: str
    name: str
    area_km2: float  # the whole site
    inner_km2: float  # the site less a 50 m margin inside its boundary (`WALK_INSET_M`)
    walkable_km: float  # inside that margin, each street once whatever its directions

    @property
    def km_per_km2(self) -> float:
        """Walkable street length per km² of the site (inside the margin)."""
        return self.walkable_km / self.inner_km2 if self.inner_km2 > 0 else 0.0

    @property
    def sparse(self) -> bool:
        """Whether walking inside the site is in effect not modelled."""
        return self.inner_km2 >= SPARSE_WALK_MIN_KM2 and self.km_per_km2 < SPARSE_WALK_KM_PER_KM2

    def note(self, network: str) -> str:
        """Return the warning for walking in a sparse site.

        Parameters
        ----------
        network
            The network's name.
        """
        return (
            f"walking inside {self.name} ({self.area_km2:.1f} km²) is not modelled: network {network!r} has "
            f"{self.km_per_km2:.1f} km of walkable way per km² there (its footpaths are missing; the shipped 2013 "
            f"roads have none), so walks follow the streets around it. For walking inside it, {FOOTPATH_HINT}."
        )


class RouteNotes:
    """The notes and warnings of the routing service (a base of `layers.routing.RoutingService`).

    Attributes
    ----------
    networks
        The network store.
    sites
        The site catalogue.
    """

    networks: NetworkStore
    sites: SiteCatalog
    _lock: threading.Lock
    _density: dict[tuple[str, str, str], WalkDensity]
    _sparse: dict[tuple[str, str, str], list[tuple[WalkDensity, shapely.Geometry]]]
    _calibrations: dict[str, Calibration]

    def calibration(self, net: RoadNetwork) -> Calibration | None:
        """Return the speed calibration of a regional network (None for a detailed one).

        Parameters
        ----------
        net
            The road network.
        """
        if not net.source.regional:
            return None
        with self._lock:
            hit = self._calibrations.get(net.name)
        if hit is None:
            hit = read_calibration(net.source.path.with_name(REGIONAL_CALIBRATION_FILE))
            with self._lock:
                self._calibrations[net.name] = hit
        return hit

    def precision_warnings(self, net: RoadNetwork, used_regional: bool = True) -> list[str]:
        """Return the precision note of the regional skeleton when an answer used it.

        Parameters
        ----------
        net
            The road network.
        used_regional
            Whether the answer used the regional skeleton.
        """
        cal = self.calibration(net)
        return [precision_note(cal)] if cal is not None and used_regional else []

    def network_legs(self, route: Route, net: RoadNetwork) -> list[NetworkLeg]:
        """Return a route's stretches per network, in order (the detailed roads, the regional skeleton).

        Parameters
        ----------
        route
            A route on the network.
        net
            The network the route is on.
        """
        cal = self.calibration(net)
        detailed = net.name if cal is None else self.networks.source_of_regional(net).name
        legs: list[NetworkLeg] = []
        for st in route.streets:
            regional = cal is not None and st.road_class in (REGIONAL_CLASS, CONNECTOR_CLASS)
            name = "regional skeleton (major roads)" if regional else detailed
            if legs and legs[-1].regional == regional:
                last = legs[-1]
                legs[-1] = NetworkLeg(
                    name, regional, last.length_m + st.length_m, last.travel_time_s + st.travel_time_s, last.precision
                )
                continue
            precision = None
            if regional and cal is not None:
                med, p90 = cal.time_error()
                precision = (
                    f"major roads only; positions ±{POSITION_PRECISION_M:.0f} m; travel time error median {med:.0%}, "
                    f"p90 {p90:.0%} (held-out trips)"
                )
            legs.append(NetworkLeg(name, regional, st.length_m, st.travel_time_s, precision))
        return legs

    def access_leg(self, place: ResolvedPlace, *, end: str, mode: str) -> AccessLeg:
        """Return the straight stretch between a place and its road (towards the road for an origin).

        Parameters
        ----------
        place
            A resolved place.
        end
            ``"origin"`` or ``"destination"``.
        mode
            ``"drive"`` or ``"walk"``.
        """
        snap = place.snap
        road = (snap.lon, snap.lat)
        if place.site_id is not None:
            boundary = self.sites.get(place.site_id).boundary_utm()
            x, y = lonlat_to_utm([snap.lon], [snap.lat], name=end)
            near = shapely.ops.nearest_points(boundary, shapely.Point(float(x[0]), float(y[0])))[0]
            blon, blat = utm_to_lonlat([near.x], [near.y])
            at = (float(blon[0]), float(blat[0]))
        else:
            at = (place.lon, place.lat)
        walk = check_mode(mode) == "walk"
        seconds = snap.distance_m / (WALK_SPEED_KPH / 3.6) if walk else None
        coords = (at, road) if end != "destination" else (road, at)
        return AccessLeg(end, snap.distance_m, seconds, coords)

    def route_notes(
        self,
        route: Route,
        a: ResolvedPlace,
        b: ResolvedPlace,
        *,
        mode: str,
        by_network: list[NetworkLeg] | None = None,
    ) -> tuple[tuple[AccessLeg, AccessLeg], list[str]]:
        """Return a route's access legs and warnings (long access legs, walks through sites without paths).

        ``by_network`` is the route's `network_legs`, when the caller has them already.

        Parameters
        ----------
        route
            A route on the network.
        a
            The resolved origin.
        b
            The resolved destination.
        mode
            ``"drive"`` or ``"walk"``.
        by_network
            The route's stretches per network, when already computed.
        """
        legs = (self.access_leg(a, end="origin", mode=mode), self.access_leg(b, end="destination", mode=mode))
        warnings = [w for leg in legs if (w := leg.warning(mode)) is not None]
        lines = [route.coords, *(np.asarray(leg.coords) for leg in legs)]
        if by_network is None:
            by_network = self.network_legs(route, a.network)
        regional = any(leg.regional for leg in by_network)
        return legs, warnings + self.walk_warnings(a.network, lines) + self.precision_warnings(a.network, regional)

    def walk_density(self, net: RoadNetwork, site_id: str) -> WalkDensity:
        """Return the walkable network length inside a site's boundary (cached per network).

        Parameters
        ----------
        net
            The road network.
        site_id
            A site id.
        """
        key = (net.name, net.mode, site_id)
        with self._lock:
            hit = self._density.get(key)
        if hit is not None:
            return hit
        site = self.sites.get(site_id)
        # The streets along a road-bounded site's edge are its boundary, not a way inside it.
        boundary = site.boundary_utm().buffer(-WALK_INSET_M)
        idx = net.edge_index
        cand = idx.tree.query(boundary, predicate="intersects")
        seen: set[tuple[int, int]] = set()
        total = 0.0
        for i in cand.tolist():
            u, v, _ = (int(t) for t in idx.edges[i])
            pair = (min(u, v), max(u, v))
            if pair in seen:
                continue
            seen.add(pair)
            total += float(shapely.intersection(idx.geoms[i], boundary).length)
        area = float(site.boundary_utm().area) / 1e6
        dens = WalkDensity(site.id, f"{site.name_en} ({site.id})", area, boundary.area / 1e6, total / 1000)
        with self._lock:
            self._density[key] = dens
        return dens

    def walk_warnings(
        self,
        net: RoadNetwork,
        lines: list[NDArray[np.float64]] | None = None,
        areas: list[shapely.Geometry] | None = None,
    ) -> list[str]:
        """Return a warning for each sparse site (no footpaths) that a walk starts, ends or passes in.

        ``lines`` are lon/lat coordinate arrays (routes and their access legs); ``areas``
        are WGS84 polygons (isochrone bands).

        Parameters
        ----------
        net
            The road network.
        lines
            Lines (WGS84) the walk follows, or None.
        areas
            Polygons (WGS84) the walk covers, or None.
        """
        if net.mode != "walk" or not (lines or areas):
            return []
        geoms = []
        for c in lines or []:
            x, y = lonlat_to_utm(c[:, 0], c[:, 1], name="route")
            geoms.append(shapely.LineString(np.column_stack([x, y])) if len(c) > 1 else shapely.Point(x[0], y[0]))
        for a in areas or []:
            xy = shapely.get_coordinates(a)
            if len(xy):
                x, y = lonlat_to_utm(xy[:, 0], xy[:, 1], name="band")
                geoms.append(shapely.set_coordinates(a, np.column_stack([x, y])))
        shape = shapely.union_all(geoms)
        return [dens.note(net.name) for dens, boundary in self.sparse_sites(net) if shape.intersects(boundary)]

    def sparse_sites(self, net: RoadNetwork) -> list[tuple[WalkDensity, shapely.Geometry]]:
        """Return the sites of a walk network with almost no walkable way inside, with their UTM boundaries.

        Parameters
        ----------
        net
            The road network.
        """
        key = (net.name, net.mode, "")
        with self._lock:
            hit = self._sparse.get(key)
        if hit is not None:
            return hit
        out = []
        for sid in self.sites.ids():
            site = self.sites.get(sid)
            if net.covers(site.lon, site.lat):
                dens = self.walk_density(net, sid)
                if dens.sparse:
                    out.append((dens, site.boundary_utm()))
        with self._lock:
            self._sparse[key] = out
        return out
