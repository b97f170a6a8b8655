"""The queue formula against SUMO (issue 25): one approach held closed for T, total time lost, a sweep.

Run with ``.venv/bin/python bench/sumo_queue.py``. For q/s from 0.2 to 0.8 and T from 30 s
to 10 min, one SUMO run with the approach held red for T and one without; the time lost to
the hold is the difference of the vehicles' summed timeLoss. The saturation flow s is the
discharge rate SUMO's vehicles reach after the hold (measured in the same run), and
D = q*T**2 / (2*(1 - q/s)) is `geo.eventtime.queue_delay_vh`. Prints the table and the ratio
SUMO / formula. The formula leaves out each stopped vehicle's braking and pulling away
(about 4 s for a car at 50 km/h), which SUMO counts: short holds lose more than it says.
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from record import save

from geo.eventtime import queue_delay_vh

SPEED_MS = 13.89  # 50 km/h: the approach's limit
LENGTH_M = 6000.0  # long enough to hold the longest queue of the sweep without spilling back
WARMUP_S = 480  # traffic reaches the stop line (432 s at 50 km/h) before the hold starts
SWEEP = [(r, t) for r, t in itertools.product((0.2, 0.4, 0.6, 0.8), (30, 120, 300, 600))]


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _network(folder: Path) -> Path:
    (folder / "n.nod.xml").write_text(
        f'<nodes><node id="a" x="0" y="0"/><node id="b" x="{LENGTH_M:g}" y="0" type="traffic_light"/>'
        f'<node id="c" x="{LENGTH_M + 500:g}" y="0"/></nodes>'
    )
    (folder / "n.edg.xml").write_text(
        f'<edges><edge id="in" from="a" to="b" numLanes="1" speed="{SPEED_MS:g}"/>'
        f'<edge id="out" from="b" to="c" numLanes="1" speed="{SPEED_MS:g}"/></edges>'
    )
    net = folder / "n.net.xml"
    subprocess.run(
        [_bin("netconvert"), "-n", str(folder / "n.nod.xml"), "-e", str(folder / "n.edg.xml"), "-o", str(net),
         "--no-turnarounds", "true", "--tls.default-type", "static"],
        check=True, capture_output=True,
    )  # fmt: skip
    return net


def _run(folder: Path, net: Path, q: float, hold_s: float, tag: str) -> list[dict[str, float]]:
    """Return per vehicle: depart, arrival, timeLoss (one run; the light red for ``hold_s`` after the warm-up)."""
    end = WARMUP_S + 2400
    phases = f'<phase duration="{WARMUP_S}" state="G"/>'
    if hold_s > 0:
        phases += f'<phase duration="{hold_s:g}" state="r"/>'
    phases += '<phase duration="100000" state="G"/>'
    (folder / f"{tag}.add.xml").write_text(
        f'<additional><tlLogic id="b" type="static" programID="hold" offset="0">{phases}</tlLogic></additional>'
    )
    (folder / f"{tag}.rou.xml").write_text(
        '<routes><vType id="car" sigma="0" speedDev="0"/>'
        f'<flow id="f" type="car" begin="0" end="{end - 600}" period="{3600.0 / q:.6f}" from="in" to="out" '
        'departSpeed="max" departLane="0"/></routes>'
    )
    out = folder / f"{tag}.trips.xml"
    subprocess.run(
        [_bin("sumo"), "-n", str(net), "-r", str(folder / f"{tag}.rou.xml"), "-a", str(folder / f"{tag}.add.xml"),
         "--tripinfo-output", str(out), "--no-step-log", "true", "--end", str(end), "--step-length", "0.1",
         "--no-warnings", "true", "--time-to-teleport", "-1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return [
        {k: float(t.get(k, "0")) for k in ("depart", "arrival", "timeLoss", "waitingTime", "departDelay")}
        for t in ET.parse(out).getroot().iter("tripinfo")
    ]


def lost_hours(q: float, hold_s: float, folder: Path | None = None) -> tuple[float, float]:
    """Return (vehicle-hours lost to the hold in SUMO, the saturation flow SUMO's queue discharged at).

    Parameters
    ----------
    q
        Arrival flow, vehicles per hour.
    hold_s
        How long the approach is held, seconds.
    folder
        Where to write SUMO's files (a temporary folder when None).
    """
    with tempfile.TemporaryDirectory() as tmp:
        work = folder or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        net = _network(work)
        held = _run(work, net, q, hold_s, "held")
        free = _run(work, net, q, 0.0, "free")
    # A vehicle that could not even enter (a queue back to the start) loses its departure delay too.
    lost = sum(t["timeLoss"] + t["departDelay"] for t in held) - sum(t["timeLoss"] + t["departDelay"] for t in free)
    # The queue's discharge: the arrivals of the vehicles that waited, from the fifth to the fortieth.
    stopped = sorted(t["arrival"] for t in held if t["waitingTime"] > 0)[4:40]
    gaps = [b - a for a, b in itertools.pairwise(stopped)]
    s = 3600.0 / statistics.mean(gaps) if len(gaps) > 4 else float("nan")
    return lost / 3600.0, s


def main() -> None:
    """Print the sweep."""
    print(f"{'q/s':>5} {'T s':>5} {'q veh/h':>8} {'s veh/h':>8} {'SUMO veh-h':>11} {'formula':>9} {'ratio':>6}")
    _, s = lost_hours(1000.0, 300)  # the discharge rate of SUMO's default car
    out: dict[str, float] = {"sumo_saturation_veh_h": s}
    for ratio, t in SWEEP:
        q = ratio * s
        sim, _ = lost_hours(q, t)
        f = queue_delay_vh(q, s, t / 3600.0)
        print(f"{ratio:5.1f} {t:5d} {q:8.0f} {s:8.0f} {sim:11.3f} {f:9.3f} {sim / f:6.2f}")
        out[f"ratio_sumo_to_formula_q{ratio:g}_t{t}"] = sim / f
    save("sumo_queue", out)


if __name__ == "__main__":
    main()
