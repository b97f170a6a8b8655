"""A convoy's rolling holds in SUMO (a microsimulation) against the motorcade model: a small corridor.

Two crossings 600 m apart on a main road, each crossed by a one-lane street (600 and 900
cars/h); the lights hold the cross streets by the model's schedule. SUMO's vehicle-hours
lost by the cross traffic are within the tolerance the manual states (SUMO 0-15 % above
the model: it counts each stopped car's braking and pulling away, which the queue formula
leaves out), and the convoy, timed by the model, meets no red light (it loses under 5 s).
The larger corridors are `bench/sumo_motorcade.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from sumo_motorcade import corridor


def test_the_corridor_loses_what_the_model_says(tmp_path: Path) -> None:
    sim, model, convoy_lost = corridor([600.0, 900.0], 10.0, 5.0, folder=tmp_path)
    assert model > 0.2
    assert 1.0 <= sim / model <= 1.15
    assert convoy_lost < 5.0
