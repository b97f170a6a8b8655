"""The closure-cost atlas: every road link's car flow at an hour and what holding it for T minutes costs.

Method after Jenelius, Petersen & Mattsson (2006), link importance: the cost to the trips
that use a link when it is closed, here for a hold of T minutes at hour h. The flows are the
hour's car trips assigned all-or-nothing to the fastest routes (`geo.assign`) from one point
per township: a township's trips leave from one node, so the roads next to it carry more than
any real road would (read the flows as where trips go, not as link counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.engine_arrays import SEP
from geo.eventtime import CAR_OCCUPANCY, saturation_flow
from geo.impact import CUT_OFF_HOURS

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import NDArray

    from layers.eventimpact import EventModel, TravelModel
    from layers.impact import _Towns
    from layers.networks import RoadNetwork

__all__ = ["ATLAS_TEXT", "Atlas", "atlas_features", "closure_atlas", "link_flows"]

ATLAS_TEXT = (
    "Flows: the hour's car trips (residents x trips per person x car share x the hour's share of the day's trips, "
    f"{CAR_OCCUPANCY:g} persons per car) between townships by the gravity model, assigned all-or-nothing to the "
    "fastest routes from one point per township (a township's trips leave from one node: flows next to it are "
    "overstated). Holding a link for T minutes: the trips that reach it then pay the smaller of the deterministic "
    "queue's wait T/(2(1 - q/s)) (s: 1,900 cars per hour per lane, 2,400 on motorways and trunk roads, HCM 2010; "
    "lanes by class, an assumption) and the way round the link (an upper bound of each trip's own detour); with "
    f"neither, a trip counts as cut off at {CUT_OFF_HOURS:g} hour. Cost = those trips x that time, person-hours. "
    "Method after Jenelius, Petersen & Mattsson (2006), link importance."
)


@dataclass(frozen=True)
class Atlas:
    """Per drive arc with traffic at the hour: its car flow and what holding it for T costs."""

    rows: NDArray[np.int64]  # arc rows
    flow_veh_h: NDArray[np.float64]
    saturation_veh_h: NDArray[np.float64]
    wait_s: NDArray[np.float64]  # per trip if it waits (inf: the queue would not clear)
    detour_s: NDArray[np.float64]  # per trip, the way round the link (inf: none within the limit)
    cost_person_hours: NDArray[np.float64]
    choice: list[str]  # "wait", "detour" or "cut off"
    hour: int
    minutes: float
    trips_per_person: float


def closure_atlas(
    model: EventModel, net: RoadNetwork, towns: _Towns, travel: TravelModel, *, hour: int, minutes: float
) -> Atlas:
    """Return, for every drive arc with car traffic at ``hour``, the cost of holding it for ``minutes``.

    The flow is the hour's car trips assigned all-or-nothing (`geo.assign`); the trips that
    meet the hold pay the smaller of the queue's wait T/(2*(1 - q/s)) and the link's way round
    (`EventModel.link_detours`, an upper bound of each trip's own detour); with neither, they
    count as cut off at `geo.impact.CUT_OFF_HOURS`. Person-hours are per hold.

    Parameters
    ----------
    model
        The event model.
    net
        The drive network.
    towns
        Its assessed townships.
    travel
        Who travels (the car share, the profile, the trip rate).
    hour
        The hour of the day the hold starts, 0-23.
    minutes
        How long the link is held.
    """
    engine = model.impact.routing.engine(net)
    rate = model.trips_per_person(travel)
    car = travel.shares.get("car", 0.0)
    per_person = model.flows_per_person(net, engine, towns)
    flow = per_person * rate * car * float(travel.hourly()[hour]) / CAR_OCCUPANCY
    rows = np.flatnonzero(flow > 0)
    sat = np.array([saturation_flow(c) for c in np.asarray(model.arc_classes(engine), dtype=object)[rows]])
    detour = model.link_detours(net, engine)[rows]
    q = flow[rows]
    t_s = minutes * 60.0
    with np.errstate(divide="ignore"):
        wait = np.where(q < sat, t_s / (2.0 * (1.0 - q / sat)), np.inf)
    unit = np.minimum(wait, detour)
    cut = ~np.isfinite(unit)
    trips = q * CAR_OCCUPANCY * (t_s / 3600.0)  # persons whose trip meets the hold
    cost = trips * np.where(cut, CUT_OFF_HOURS * 3600.0, unit) / 3600.0
    choice = ["cut off" if c else ("wait" if w <= d else "detour") for c, w, d in zip(cut, wait, detour, strict=True)]
    return Atlas(rows, q, sat, wait, detour, cost, choice, hour, minutes, rate)


def atlas_features(model: EventModel, net: RoadNetwork, atlas: Atlas) -> list[tuple[shapely.Geometry, dict[str, Any]]]:
    """Return the atlas as (line, properties) per arc, costliest first.

    Parameters
    ----------
    model
        The event model (for the engine).
    net
        The drive network.
    atlas
        The atlas.
    """
    engine = model.impact.routing.engine(net)
    lines = engine._coords["fastest"]
    labels = engine._labels["fastest"]
    text = engine._label_text
    order = np.argsort(-np.nan_to_num(atlas.cost_person_hours, posinf=1e18), kind="stable")
    out = []
    for k in order.tolist():
        r = int(atlas.rows[k])
        name, cls = text[int(labels[r])].split(SEP)
        geom = shapely.LineString(np.round(lines[r], 6))

        def num(x: float, nd: int = 1) -> float | None:
            return round(float(x), nd) if np.isfinite(x) else None

        out.append(
            (
                geom,
                {
                    "street": name,
                    "road_class": cls,
                    "flow_veh_h": round(float(atlas.flow_veh_h[k]), 1),
                    "saturation_veh_h": round(float(atlas.saturation_veh_h[k])),
                    "flow_ratio": round(float(atlas.flow_veh_h[k] / atlas.saturation_veh_h[k]), 3),
                    # All-or-nothing loads a link past its saturation flow: there, a queue would not clear.
                    "oversaturated": bool(atlas.flow_veh_h[k] >= atlas.saturation_veh_h[k]),
                    "wait_s": num(atlas.wait_s[k]),
                    "detour_s": num(atlas.detour_s[k]),
                    "choice": atlas.choice[k],
                    "cost_person_hours": round(float(atlas.cost_person_hours[k]), 2),
                },
            )
        )
    return out


def link_flows(model: EventModel, net: RoadNetwork, travel: TravelModel) -> gpd.GeoDataFrame:
    """Return the hourly car flow on every drive link that carries any (a layer: one column per hour).

    Parameters
    ----------
    model
        The event model.
    net
        The drive network.
    travel
        Who travels (the car share, the profile, the trip rate).
    """
    import geopandas as gpd

    engine = model.impact.routing.engine(net)
    towns = model.impact.towns(net)
    per_person = model.flows_per_person(net, engine, towns)
    daily = per_person * model.trips_per_person(travel) * travel.shares.get("car", 0.0) / CAR_OCCUPANCY
    rows = np.flatnonzero(daily > 0)
    hourly = travel.hourly()
    text, labels, lines = engine._label_text, engine._labels["fastest"], engine._coords["fastest"]
    names = [text[int(labels[r])].split(SEP) for r in rows.tolist()]
    data: dict[str, Any] = {
        "street": [n for n, _ in names],
        "road_class": [c for _, c in names],
        "saturation_veh_h": [saturation_flow(c) for _, c in names],
        "cars_per_day": np.round(daily[rows], 1),
    }
    for h in range(24):
        data[f"cars_h{h:02d}"] = np.round(daily[rows] * hourly[h], 1)
    geoms = [shapely.LineString(lines[r]) for r in rows.tolist()]
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")
