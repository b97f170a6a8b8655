"""bench/compare.py flags a figure more than 30 % worse than the baseline, in the figure's own direction."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from compare import compare, worse_by
from record import direction, save


@pytest.mark.parametrize(
    ("name", "way"),
    [
        ("single_route_p50_ms", "lower"),
        ("warm_start_s", "lower"),
        ("batch_matrix_us_per_pair", "lower"),
        ("site_page_worst_mb", "lower"),
        ("get_routes_c8_requests_per_s", "higher"),
        ("speedup_vs_networkx_x", "higher"),
        ("max_rel_diff_path", None),
        ("pairs", None),
    ],
)
def test_direction_follows_the_unit(name: str, way: str | None) -> None:
    assert direction(name) == way


def test_worse_by_in_both_directions() -> None:
    assert worse_by("a_ms", 10.0, 13.0) == pytest.approx(0.3)
    assert worse_by("a_ms", 10.0, 5.0) == pytest.approx(-0.5)
    assert worse_by("b_per_s", 100.0, 50.0) == pytest.approx(1.0)  # half the rate: twice the time per request
    assert worse_by("b_per_s", 100.0, 200.0) == pytest.approx(-0.5)
    assert worse_by("count", 1.0, 9.0) is None


def test_compare_prints_only_the_figures_past_the_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, now = tmp_path / "base", tmp_path / "now"
    save("run", {"route_ms": 1.0, "load_s": 2.0, "rps_per_s": 100.0, "agree": True, "pairs": 1000}, folder=base)
    save("run", {"route_ms": 1.29, "load_s": 2.7, "rps_per_s": 70.0, "agree": True, "pairs": 5}, folder=now)
    save("new", {"x_ms": 1.0}, folder=now)
    lines, compared = compare(now, base)
    assert compared == 3
    assert any(line.startswith("run.load_s: 2 -> 2.7 (35 % worse)") for line in lines)
    assert any(line.startswith("run.rps_per_s: 100 -> 70 (43 % worse)") for line in lines)
    assert not any("route_ms" in line for line in lines)  # 29 % worse is within the threshold
    assert any(line.startswith("new: no baseline") for line in lines)
    doc = json.loads((now / "run.json").read_text())
    assert doc["bench"] == "run"
    assert doc["figures"]["route_ms"] == 1.29
    assert "numpy" in doc["versions"]
    capsys.readouterr()
