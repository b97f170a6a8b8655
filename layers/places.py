"""Places: coordinates, site ids or names, resolved to a network and a snapped point.

The places half of the routing service (`layers.routing.RoutingService` inherits it): a
site is reached at its access point (see `layers.networks.site_access`); a coordinate is
snapped to the nearest edge of the network that covers it, and farther than
``max_snap_m`` is an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from geo.crs import BEIJING_BBOX
from geo.errors import InvalidInputError, OutsideCoverageError
from geo.network import MODES, check_mode
from layers.networks import RoadNetwork, site_access
from layers.route_notes import RouteNotes, WalkDensity

if TYPE_CHECKING:
    from geo.network import Mode
    from geo.snapping import Snap
    from layers.sites import Site

__all__ = ["REGIONAL_SITE_ACCESS_M", "NetworkAccess", "Place", "PlaceResolution", "ResolvedPlace", "check_lonlat"]

# A site's gap to the coarse regional skeleton may be this wide, metres: the skeleton holds major
# roads only (chords between nodes about 100 m apart), so a site's own access road is often not in it.
# A bound of this project's choosing (no source); the manual's Site access section (docs/data.md) states it.
REGIONAL_SITE_ACCESS_M = 1500.0

Place = tuple[float, float] | str


@dataclass(frozen=True)
class ResolvedPlace:
    """A place as asked for, and where it meets the network."""

    label: str
    site_id: str | None
    lon: float
    lat: float
    network: RoadNetwork
    snap: Snap


@dataclass(frozen=True)
class NetworkAccess:
    """How a site meets the preferred network of one mode: its access point, or why there is none."""

    mode: str
    network: RoadNetwork | None
    snap: Snap | None
    message: str | None = None  # why no network covers it, and what to do
    walk: WalkDensity | None = None  # walk mode: the walkable way inside the site


def check_lonlat(lon: float, lat: float, *, label: str) -> None:
    """Raise a clear error for coordinates outside Beijing or given as lat/lon.

    Parameters
    ----------
    lon
        Longitude, WGS84 degrees.
    lat
        Latitude, WGS84 degrees.
    label
        How the input is named in error messages.
    """
    minx, miny, maxx, maxy = BEIJING_BBOX
    if minx <= lon <= maxx and miny <= lat <= maxy:
        return
    if minx <= lat <= maxx and miny <= lon <= maxy:
        raise InvalidInputError(
            f"`{label}` ({lon}, {lat}) looks like latitude, longitude; give longitude first: ({lat}, {lon})."
        )
    if not (abs(lon) <= 180.0 and abs(lat) <= 90.0):  # no place on Earth: bad input, not a gap in the data
        raise InvalidInputError(
            f"`{label}` ({lon}, {lat}) lies outside Beijing and is no longitude, latitude at all (±180, ±90); "
            "give WGS84 longitude, latitude in Beijing."
        )
    raise OutsideCoverageError(
        f"`{label}` ({lon}, {lat}) lies outside Beijing ({minx}–{maxx} E, {miny}–{maxy} N), which every network "
        "of the planner is limited to; give WGS84 longitude, latitude in Beijing."
    )


class PlaceResolution(RouteNotes):
    """Resolving places to networks and snapped points (a base of `layers.routing.RoutingService`)."""

    site_access_max_m: float
    _site_snaps: dict[tuple[str, str, str, float], Snap]

    def _where(self, place: Place) -> tuple[float, float]:
        """Return the point that decides which network a place is on (a site's centre)."""
        if isinstance(place, str):
            site = self.sites.get(place)
            return site.lon, site.lat
        return float(place[0]), float(place[1])

    def site_networks(self, site_id: str) -> list[NetworkAccess]:
        """Return, per mode, the network a site is reached on and its access point (the one routes use), or why none.

        Parameters
        ----------
        site_id
            A site id.
        """
        site = self.sites.get(site_id)
        label = f"site {site.id!r}"
        out = []
        for mode in MODES:
            try:
                net, snap = self._site_access(site, mode, label)
            except OutsideCoverageError as exc:
                out.append(NetworkAccess(mode, None, None, str(exc)))
                continue
            walk = self.walk_density(net, site.id) if mode == "walk" else None
            out.append(NetworkAccess(mode, net, snap, None, walk))
        return out

    def access_limit_m(self, net: RoadNetwork) -> float:
        """Return how far a site's boundary may lie from its access road on ``net``.

        Parameters
        ----------
        net
            The road network.
        """
        return max(self.site_access_max_m, REGIONAL_SITE_ACCESS_M) if net.source.regional else self.site_access_max_m

    def covering_all(self, places: list[Place], *, mode: str) -> RoadNetwork | None:
        """Return the preferred network that covers every place (None if none does, or a place is not finite).

        Parameters
        ----------
        places
            Places: ``(lon, lat)`` pairs, site ids or site names.
        mode
            ``"drive"`` or ``"walk"``.
        """
        points = []
        for p in places:
            lon, lat = self._where(p)
            if not (math.isfinite(lon) and math.isfinite(lat)):
                return None
            points.append((lon, lat))
        if not points:
            return None
        for net in self.networks.covering(*points[0], mode=check_mode(mode)):
            if all(net.covers(lon, lat) for lon, lat in points[1:]):
                return net
        return None

    def resolve_all(
        self, places: list[Place], *, mode: str, labels: list[str], max_snap_m: float = 500.0
    ) -> list[ResolvedPlace]:
        """Resolve places that must share one network: the preferred network covering them all.

        An imported extract is used where it covers every place; otherwise the shipped
        network, when it covers them. Places no single network covers resolve each on its
        own (and the caller reports that they lie in different networks).

        Parameters
        ----------
        places
            Places: ``(lon, lat)`` pairs, site ids or site names.
        mode
            ``"drive"`` or ``"walk"``.
        labels
            How each place is named in error messages.
        max_snap_m
            The farthest a point may lie from the network, metres (farther is an error).
        """
        m = check_mode(mode)
        net = self.covering_all(places, mode=m)
        if net is not None:
            return [
                self.resolve(p, mode=m, label=lab, max_snap_m=max_snap_m, network=net)
                for p, lab in zip(places, labels, strict=True)
            ]
        return [
            self.resolve(p, mode=m, label=lab, max_snap_m=max_snap_m) for p, lab in zip(places, labels, strict=True)
        ]

    def _site_access(
        self, site: Site, mode: Mode, label: str, network: RoadNetwork | None = None
    ) -> tuple[RoadNetwork, Snap]:
        """Return the network (the preferred one, or ``network``) a site is reached on, and its access point.

        Kept per network, like its engine (a network's name names one graph while the service runs).
        """
        net = network or self.networks.locate(site.lon, site.lat, mode=mode, label=label)
        limit = self.access_limit_m(net)
        key = (net.name, net.mode, site.id, limit)
        with self._lock:
            snap = self._site_snaps.get(key)
        if snap is None:
            net, snap = site_access(
                self.networks,
                site.lon,
                site.lat,
                site.boundary_utm(),
                mode=mode,
                label=label,
                max_distance_m=limit,
                network=net,
            )
            with self._lock:
                self._site_snaps[(net.name, net.mode, site.id, limit)] = snap
        return net, snap

    def resolve(
        self, place: Place, *, mode: str, label: str, max_snap_m: float = 500.0, network: RoadNetwork | None = None
    ) -> ResolvedPlace:
        """Return where a place meets the ``mode`` network (the preferred one covering it, or ``network``).

        Parameters
        ----------
        place
            A ``(lon, lat)`` pair, a site id or a site name.
        mode
            ``"drive"`` or ``"walk"``.
        label
            How the input is named in error messages.
        max_snap_m
            The farthest a point may lie from the network, metres (farther is an error).
        network
            A network name, or None for the preferred one covering the place.
        """
        m = check_mode(mode)
        if isinstance(place, str):
            site = self.sites.get(place)
            net, snap = self._site_access(site, m, f"{label} site {site.id!r}", network)
            return ResolvedPlace(f"{site.name_en} ({site.id})", site.id, site.lon, site.lat, net, snap)
        lon, lat = float(place[0]), float(place[1])
        if not (np.isfinite(lon) and np.isfinite(lat)):
            raise InvalidInputError(f"`{label}` has non-finite coordinates ({lon}, {lat}).")
        check_lonlat(lon, lat, label=label)
        net = network or self.networks.locate(lon, lat, mode=m, label=f"`{label}`")
        snap = net.edge_index.snap(lon, lat, max_distance_m=max_snap_m, label=f"`{label}`")
        return ResolvedPlace(f"{lon:.6f},{lat:.6f}", None, lon, lat, net, snap)

    def _same_network(self, places: list[ResolvedPlace]) -> RoadNetwork:
        net = places[0].network
        for p in places[1:]:
            if p.network.name != net.name:
                raise OutsideCoverageError(
                    f"{places[0].label} lies in network {net.name!r} and {p.label} in {p.network.name!r}; "
                    "no route can join two networks. Import an extract that covers both."
                )
        return net
