"""Every library the product imports is declared in pyproject.toml (not only installed by another one)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib

from api.settings import REPO_ROOT


def _imported_top_level() -> set[str]:
    names: set[str] = set()
    for pkg in ("api", "geo", "layers"):
        for path in (REPO_ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"api", "geo", "layers", "__future__"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_library_is_a_declared_dependency() -> None:
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    wanted = {_normalise(re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0]) for d in declared}
    dists = importlib.metadata.packages_distributions()
    imported = _imported_top_level()
    assert {"folium", "shapely", "jinja2", "affine"} <= imported  # the scan sees the code
    missing = {m: dists.get(m) for m in imported if not ({_normalise(d) for d in dists.get(m, [m])} & wanted)}
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"
