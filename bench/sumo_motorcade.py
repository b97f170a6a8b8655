"""A convoy's rolling holds in SUMO against the motorcade model (issue 27): vehicle-hours lost by cross traffic.

Run with ``.venv/bin/python bench/sumo_motorcade.py``. A straight main road at 50 km/h with
crossings every 600 m, each crossed by a one-lane street with a steady flow; a convoy of 25
vehicles (1.76 s apart: 44 s to pass) drives the main road, and each crossing's light holds
the cross street red from the stated margin before the convoy's head reaches it (at the
road's speed, as the model times it) until its tail has passed and the margin after. SUMO's
time lost by the cross traffic with the holds, less without, against `geo.motorcade.price_hold`
(no way round: every trip waits) with s the discharge rate SUMO's queue reaches
(`bench/sumo_queue.py`). The model's queue leaves out each stopped car's braking and pulling
away (about 4 s at 50 km/h), which SUMO counts: on short holds SUMO loses more.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sumo_queue import _bin, lost_hours

from geo.motorcade import Approaches, Convoy, Hold, price_hold

SPEED_MS = 13.89  # 50 km/h on every road (a test corridor, as bench/sumo_queue.py)
SPACING_M = 600.0  # between crossings (a test corridor, not data)
CROSS_M = 1500.0  # the cross streets' approach (room for the longest queue; a test corridor, not data)
START_S = 300  # the convoy leaves once the cross traffic has reached the crossings (a test setting)
OCCUPANCY = 1.0  # vehicles are counted as persons here: the model's cars, one each


def _network(folder: Path, n: int) -> Path:
    xs = [SPACING_M * (k + 1) for k in range(n)]
    nodes = ['<node id="w" x="0" y="0"/>', f'<node id="e" x="{SPACING_M * (n + 1):g}" y="0"/>']
    edges, cons = [], []
    for k, x in enumerate(xs):
        nodes += [
            f'<node id="c{k}" x="{x:g}" y="0" type="traffic_light"/>',
            f'<node id="s{k}" x="{x:g}" y="{-CROSS_M:g}"/>',
            f'<node id="n{k}" x="{x:g}" y="300"/>',
        ]
        edges += [
            f'<edge id="x{k}" from="s{k}" to="c{k}" numLanes="1" speed="{SPEED_MS:g}"/>',
            f'<edge id="y{k}" from="c{k}" to="n{k}" numLanes="1" speed="{SPEED_MS:g}"/>',
        ]
        cons.append(f'<connection from="x{k}" to="y{k}"/>')
    chain = ["w", *[f"c{k}" for k in range(n)], "e"]
    for k in range(n + 1):
        edges.append(f'<edge id="m{k}" from="{chain[k]}" to="{chain[k + 1]}" numLanes="1" speed="{SPEED_MS:g}"/>')
        if k < n:
            cons.append(f'<connection from="m{k}" to="m{k + 1}"/>')
    (folder / "c.nod.xml").write_text("<nodes>" + "".join(nodes) + "</nodes>")
    (folder / "c.edg.xml").write_text("<edges>" + "".join(edges) + "</edges>")
    (folder / "c.con.xml").write_text("<connections>" + "".join(cons) + "</connections>")
    net = folder / "c.net.xml"
    subprocess.run(
        [_bin("netconvert"), "-n", str(folder / "c.nod.xml"), "-e", str(folder / "c.edg.xml"),
         "-x", str(folder / "c.con.xml"), "-o", str(net), "--no-turnarounds", "true", "--no-internal-links", "true",
         "--tls.default-type", "static"],
        check=True, capture_output=True,
    )  # fmt: skip
    return net


def _links(net: Path) -> dict[str, tuple[str, int]]:
    """Return each incoming edge's (light, link index) at the crossings."""
    out = {}
    for c in ET.parse(net).getroot().iter("connection"):
        if c.get("tl"):
            out[str(c.get("from"))] = (str(c.get("tl")), int(str(c.get("linkIndex"))))
    return out


def _run(
    folder: Path, net: Path, flows: list[float], holds: list[tuple[float, float]] | None, tag: str
) -> tuple[float, float]:
    """Return the cross traffic's summed time lost (timeLoss and departure delay) and the convoy's worst, seconds."""
    links = _links(net)
    end = START_S + 1800
    tls = []
    for k in range(len(flows)):
        light, cross = links[f"x{k}"]
        _, main = links[f"m{k}"]

        def state(cross_green: bool, light_cross: int = cross, light_main: int = main) -> str:
            s = ["r", "r"]
            s[light_cross] = "G" if cross_green else "r"
            s[light_main] = "g" if cross_green else "G"  # the convoy's road yields outside its holds
            return "".join(s)

        if holds is None:
            phases = f'<phase duration="100000" state="{state(True)}"/>'
        else:
            a, b = holds[k]
            phases = (
                f'<phase duration="{a:.1f}" state="{state(True)}"/><phase duration="{b - a:.1f}" state="{state(False)}"/>'
                f'<phase duration="100000" state="{state(True)}"/>'
            )
        tls.append(f'<tlLogic id="{light}" type="static" programID="hold" offset="0">{phases}</tlLogic>')
    (folder / f"{tag}.add.xml").write_text("<additional>" + "".join(tls) + "</additional>")
    routes = ['<vType id="car" sigma="0" speedDev="0"/>']
    routes += [
        f'<flow id="cross{k}" type="car" begin="0" end="{end - 300}" period="{3600.0 / q:.6f}" from="x{k}" to="y{k}" '
        'departSpeed="max"/>'
        for k, q in enumerate(flows)
    ]
    last = f"m{len(flows)}"
    routes.append(
        f'<flow id="convoy" type="car" begin="{START_S}" number="25" period="1.76" from="m0" to="{last}" departSpeed="max"/>'
    )
    (folder / f"{tag}.rou.xml").write_text("<routes>" + "".join(routes) + "</routes>")
    out = folder / f"{tag}.trips.xml"
    subprocess.run(
        [_bin("sumo"), "-n", str(net), "-r", str(folder / f"{tag}.rou.xml"), "-a", str(folder / f"{tag}.add.xml"),
         "--tripinfo-output", str(out), "--no-step-log", "true", "--end", str(end), "--step-length", "0.1",
         "--no-warnings", "true", "--time-to-teleport", "-1"],
        check=True, capture_output=True,
    )  # fmt: skip
    trips = list(ET.parse(out).getroot().iter("tripinfo"))
    cross = sum(
        float(t.get("timeLoss", "0")) + float(t.get("departDelay", "0"))
        for t in trips
        if str(t.get("id")).startswith("cross")
    )
    convoy = max(float(t.get("timeLoss", "0")) for t in trips if str(t.get("id")).startswith("convoy"))
    return cross, convoy


def corridor(
    flows: list[float], before_s: float, after_s: float, folder: Path | None = None
) -> tuple[float, float, float]:
    """Return (SUMO's vehicle-hours lost by the cross traffic, the model's, the convoy's worst time lost in s).

    Parameters
    ----------
    flows
        Cars per hour on each crossing street (its number of crossings).
    before_s, after_s
        The holds' margins around the convoy's passage.
    folder
        Where to write SUMO's files (a temporary folder when None).
    """
    convoy = Convoy(hold_before_s=before_s, hold_after_s=after_s)
    with tempfile.TemporaryDirectory() as tmp:
        work = folder or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        _, s = lost_hours(1000.0, 300.0, folder=work / "discharge")
        net = _network(work, len(flows))
        # The model's schedule: the head reaches crossing k after (k + 1) spacings at the road's speed.
        arrive = [START_S + SPACING_M * (k + 1) / SPEED_MS for k in range(len(flows))]
        holds = [(t - convoy.hold_before_s, t + convoy.passage_s + convoy.hold_after_s) for t in arrive]
        held, convoy_lost = _run(work, net, flows, holds, "held")
        free, _ = _run(work, net, flows, None, "free")
        sim = (held - free) / 3600.0
    n = len(flows)
    app = Approaches(
        src=np.arange(1, n + 1, dtype=np.int64),
        dst=np.zeros(n, dtype=np.int64),
        time_s=np.full(n, CROSS_M / SPEED_MS),
        car_trips=np.asarray(flows, dtype=float) * 24 * OCCUPANCY,  # flat profile: the hour's flow is a 24th of the day
        bus_trips=np.zeros(n),
        saturation=np.full(n, s),
        wide=np.zeros(n, dtype=bool),
        crossing=np.ones(n + 1, dtype=bool),
        profile=np.full(24, 1 / 24),
        occupancy=OCCUPANCY,
    )
    model = 0.0
    for k, (a, b) in enumerate(holds):
        own = frozenset(r for r in range(n) if r != k)  # one crossing at a time: only approach k is held there
        model += price_hold(app, Hold(0, a, b, own), {k: np.array([np.inf])}).person_hours
    return sim, model, convoy_lost


def main() -> None:
    """Print the corridor cases."""
    from record import save

    out: dict[str, float] = {}
    cases = {
        "five_crossings_0_margins": ([300.0, 600.0, 900.0, 1200.0, 500.0], 0.0, 0.0),
        "five_crossings_30_10_margins": ([300.0, 600.0, 900.0, 1200.0, 500.0], 30.0, 10.0),
        "three_busy_crossings_60_30": ([1200.0, 1400.0, 1000.0], 60.0, 30.0),
    }
    print(f"{'case':<32} {'SUMO veh-h':>10} {'model':>8} {'ratio':>6} {'convoy lost s':>14}")
    for name, (flows, before, after) in cases.items():
        sim, model, lost = corridor(flows, before, after)
        print(f"{name:<32} {sim:10.3f} {model:8.3f} {sim / model:6.2f} {lost:14.1f}")
        out[f"ratio_sumo_to_model_{name}"] = sim / model
    save("sumo_motorcade", out)


if __name__ == "__main__":
    main()
