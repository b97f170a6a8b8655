"""The map pages' JavaScript lives in the static script; the Python modules only name what they use."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from api.settings import REPO_ROOT

MAPS = sorted((REPO_ROOT / "api" / "maps").glob("*.py"))
SCRIPT = (REPO_ROOT / "api" / "static" / "js" / "venue-planner.js").read_text(encoding="utf-8")
# What JavaScript looks like inside a Python string: a function, an arrow, Leaflet or the page script's calls.
JS = re.compile(r"function\s*\(|=>|\bL\.[a-zA-Z]+\(|\besc\(|\.toLocaleString\(|\bf\.properties\b")


def _looks_in_script() -> set[str]:
    body = SCRIPT.split("VP.looks = {", 1)[1].split("\n  };\n", 1)[0]
    return set(re.findall(r"^    (\w+): \{", body, flags=re.M))


def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_the_script_has_looks() -> None:
    assert {"roads", "proposals", "band", "stations", "closureCost"} <= _looks_in_script()


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.name)
def test_no_map_module_holds_javascript(path: Path) -> None:
    found = [s for s in _string_constants(path) if JS.search(s)]
    assert found == [], f"JavaScript in {path}: move it to venue-planner.js (VP.looks) and name it"


def test_every_look_a_page_names_is_in_the_script() -> None:
    named: set[str] = set()
    for path in MAPS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "FastGeoJson":
                looks = [k.value for k in node.keywords if k.arg == "look"]
                assert len(looks) == 1, ast.unparse(node)
                assert isinstance(looks[0], ast.Constant), ast.unparse(node)  # a name, not an expression
                named.add(str(looks[0].value))
    assert len(named) >= 20
    missing = named - _looks_in_script()
    assert not missing, f"looks named in api/maps but not defined in VP.looks: {sorted(missing)}"
