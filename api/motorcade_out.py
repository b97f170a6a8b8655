"""The motorcade answers' parts shared by the routers: schedules, candidates, townships, the model's text."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from api.schemas import IMPACT_ATTRIBUTION
from geo.motorcade import CONVOY_VEHICLES, FLOW_CAP, MIN_RELEASE_S, PASSAGE_S_PER_VEHICLE, REPORTED_PASSAGE_S
from layers.motorcade import Candidate, MotorcadeAnswer, ProgrammeAnswer, clock, crossing_streets

if TYPE_CHECKING:
    from geo.motorcade import HoldCost
    from layers.coverage import CoverageService
    from layers.impact import ImpactService

MOTORCADE_MODEL = (
    "Rolling control: each crossing of the route (a node where another road meets it) is held from the stated "
    "margin before the convoy's head reaches it until its tail has passed and the margin after, by the engine's "
    f"travel times. Passage: {PASSAGE_S_PER_VEHICLE:.2f} s per vehicle ({CONVOY_VEHICLES} vehicles cleared Dongdan "
    f"in {REPORTED_PASSAGE_S:g} s, Beijing's practice as issue 27 reports it); holds of one crossing less than "
    f"{MIN_RELEASE_S:g} s apart are merged (cross traffic is released for at least that long). Every approach "
    "but the convoy's own is held; its trips (the event model's car and bus trips of that hour on the arc, "
    "all-or-nothing on the fastest routes between townships) wait, T/(2(1 - q/s)) each, or take the fastest way "
    "round the crossing to their exit (turns in equal shares: no turning counts), whichever is less. An approach's "
    f"car flow is taken at most at {FLOW_CAP:.0%} of its saturation flow. Links between crossings are listed "
    "with their times; nobody crosses them, so they cost nothing here. Candidates: one search per trade-off "
    "between convoy time and an estimate of the residents' cost, each priced exactly; the fastest, the cheapest "
    "for residents and every candidate no other beats on both. Recommended: the cheapest for residents within "
    "`max_extra_minutes` of the fastest. Walking inside parks is not modelled (the 2013 roads have no "
    "footpaths); beyond the central network only the regional skeleton (major roads, no classes) is routed."
)


def hold_entries(impact: ImpactService, ans: MotorcadeAnswer, holds: list[HoldCost]) -> list[dict[str, Any]]:
    """Return the held crossings as schedule entries (with their cost)."""
    engine = impact.routing.engine(ans.net)
    app = impact.motorcades.approaches(ans.net, engine, ans.trip.travel)
    out = []
    for h in holds:
        node = h.hold.node
        out.append(
            {
                "kind": "crossing",
                "lon": round(float(engine.lon[node]), 6),
                "lat": round(float(engine.lat[node]), 6),
                "streets": crossing_streets(engine, app.into(node)),
                "start": clock(h.hold.start_s),
                "end": clock(h.hold.end_s),
                "hold_s": round(h.hold.seconds, 1),
                "convoy_arrives": clock(h.hold.arrive_s),
                "convoys": [i + 1 for i in h.hold.convoys],
                "approaches_held": len(h.rows),
                "persons": round(float(h.persons.sum()), 1),
                "queue_person_hours": round(float(h.queue_s.sum()) / 3600, 3),
                "detour_person_hours": round(float(h.detour_s.sum()) / 3600, 3),
                "person_hours": round(h.person_hours, 3),
            }
        )
    return out


def link_entries(impact: ImpactService, ans: MotorcadeAnswer, c: Candidate) -> list[dict[str, Any]]:
    """Return the stretches between held crossings, each with the time the convoy holds it."""
    engine = impact.routing.engine(ans.net)
    held = {h.hold.node for h in c.holds}
    cut = [0] + [k for k in range(1, len(c.nodes) - 1) if int(c.nodes[k]) in held] + [len(c.nodes) - 1]
    rows = np.asarray(c.route.edge_rows, dtype=np.int64)
    conv = ans.trip.convoy
    out = []
    for a, b in itertools.pairwise(cut):
        if b <= a:
            continue
        out.append(
            {
                "kind": "link",
                "from": [round(float(engine.lon[c.nodes[a]]), 6), round(float(engine.lat[c.nodes[a]]), 6)],
                "to": [round(float(engine.lon[c.nodes[b]]), 6), round(float(engine.lat[c.nodes[b]]), 6)],
                "streets": crossing_streets(engine, rows[a:b]),
                "start": clock(float(c.at_s[a]) - conv.hold_before_s),
                "end": clock(float(c.at_s[b]) + conv.passage_s + conv.hold_after_s),
            }
        )
    return out


def townships(coverage: CoverageService, ans: MotorcadeAnswer, persons: Any, hours: Any) -> list[dict[str, Any]]:  # noqa: ANN401
    """Return the townships whose residents meet the holds, most person-hours first."""
    t = coverage.townships
    out = []
    for k in np.argsort(-hours, kind="stable").tolist():
        if persons[k] < 0.05:
            continue
        row = int(ans.towns.rows[k])
        out.append(
            {
                "township_id": int(t["township_id"].iloc[row]),
                "township": str(t["township"].iloc[row]),
                "district": str(t["district"].iloc[row]),
                "persons": round(float(persons[k]), 1),
                "person_hours": round(float(hours[k]), 3),
            }
        )
    return out


def candidate_feature(
    impact: ImpactService, coverage: CoverageService, ans: MotorcadeAnswer, i: int, c: Candidate
) -> dict[str, Any]:
    """Return candidate ``i`` as a GeoJSON Feature: its line, figures, schedule and townships."""
    deadline = ans.trip.arrive_by_s if ans.trip.depart_s is not None else None
    holds = c.holds
    props = {
        "candidate": i,
        "kinds": c.kinds,
        "recommended": i == ans.recommended,
        "depart": clock(c.depart_s),
        "arrive": clock(c.arrive_s),
        "on_time": None if deadline is None else bool(c.arrive_s <= deadline),
        "convoy_time_s": round(c.convoy_time_s, 1),
        "length_m": round(c.route.length_m, 1),
        "person_hours_lost": round(c.person_hours, 3),
        "queue_person_hours": round(sum(float(h.queue_s.sum()) for h in holds) / 3600, 3),
        "detour_person_hours": round(sum(float(h.detour_s.sum()) for h in holds) / 3600, 3),
        "persons_held": round(sum(float(h.persons.sum()) for h in holds), 1),
        "crossings_held": len(holds),
        "wide_share": round(c.wide_share, 3),
        "unknown_class_share": round(c.unknown_class_share, 3),
        "streets": [s.name or f"({s.road_class})" for s in c.route.streets][:40],
        "schedule": sorted(hold_entries(impact, ans, holds) + link_entries(impact, ans, c), key=lambda e: e["start"]),
        "townships": townships(coverage, ans, c.by_town_persons, c.by_town_hours),
    }
    line = [[round(float(x), 6), round(float(y), 6)] for x, y in c.route.coords.tolist()]
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": line}, "properties": props}


def members(ans: MotorcadeAnswer) -> dict[str, Any]:
    """Return the answer's members besides the candidates: the recommendation, the convoy, the model."""
    rec = ans.candidates[ans.recommended]
    conv = ans.trip.convoy
    return {
        "recommended": {"candidate": ans.recommended, "reason": ans.reason, "kinds": rec.kinds},
        "network": ans.net.name,
        "convoy": {
            "vehicles": conv.vehicles,
            "speed_kph": conv.speed_kph,
            "passage_s": round(conv.passage_s, 1),
            "hold_before_s": conv.hold_before_s,
            "hold_after_s": conv.hold_after_s,
            "hold_s": round(conv.hold_s, 1),
        },
        "model": MOTORCADE_MODEL,
        "warnings": ans.warnings,
        "attribution": IMPACT_ATTRIBUTION,
    }


def programme_snapshot(impact: ImpactService, prog: ProgrammeAnswer) -> dict[str, Any]:
    """Return a programme's schedule as kept with a saved plan: each convoy's route and times, the held crossings.

    Everything here is derived from the plan's ``motorcades`` on the day's data; it is what the
    plan's GeoJSON export and ``GET /plans/{id}/schedule`` carry.
    """
    first = prog.answers[0]
    convoys = []
    for k, (ans, c) in enumerate(zip(prog.answers, prog.chosen, strict=True)):
        convoys.append(
            {
                "convoy": k + 1,
                "candidate": ans.candidates.index(c),
                "kinds": c.kinds,
                "depart": clock(c.depart_s),
                "arrive": clock(c.arrive_s),
                "convoy_time_s": round(c.convoy_time_s, 1),
                "length_m": round(c.route.length_m, 1),
                "alone_person_hours": round(c.person_hours, 3),
                "route": [[round(float(x), 6), round(float(y), 6)] for x, y in c.route.coords.tolist()],
            }
        )
    return {
        "network": first.net.name,
        "person_hours_lost": round(prog.person_hours, 3),
        "apart_person_hours": round(prog.apart_person_hours, 3),
        "merged_holds": sum(1 for h in prog.holds if len(h.hold.convoys) > 1),
        "convoys": convoys,
        "crossings": sorted(hold_entries(impact, first, prog.holds), key=lambda e: e["start"]),
        "times": "local (Beijing) clock times HH:MM:SS of the first day given (or of a typical day); '+1d' past its midnight",
    }


def crossing_points(entries: list[dict[str, Any]]) -> list[tuple[shapely.Geometry, dict[str, Any]]]:
    """Return held-crossing entries as points with flat properties (lists joined), for GeoJSON or a GeoPackage."""
    return [
        (
            shapely.Point(e["lon"], e["lat"]),
            {**e, "streets": " / ".join(e["streets"]), "convoys": ",".join(map(str, e["convoys"]))},
        )
        for e in entries
    ]
