"""Every HTTP example of the README and the manual (docs/) runs as written against a served instance."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from api.app import create_app
from api.settings import REPO_ROOT, Settings
from tests.conftest import served_app

README = REPO_ROOT / "README.md"
HOST = "http://127.0.0.1:8000"


def _nav_pages(nav: object) -> list[str]:
    """Return the manual's pages in the order of its navigation (mkdocs.yml)."""
    if isinstance(nav, str):
        return [nav] if nav.endswith(".md") else []
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_pages(item)]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_pages(value)]
    return []


def _pages() -> list[Path]:
    """Return the README, then the manual's pages in reading order."""
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return [README, *(REPO_ROOT / "docs" / p for p in _nav_pages(config["nav"]))]


def _examples() -> list[str]:
    """Return the bash blocks of the README and the manual that call the service (with curl)."""
    blocks = [
        b for page in _pages() for b in re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    ]
    return [b for b in blocks if "curl " in b and HOST in b]


def test_every_page_of_the_manual_is_in_its_navigation() -> None:
    listed = set(_pages()[1:])
    on_disk = set((REPO_ROOT / "docs").rglob("*.md"))
    assert on_disk == listed, f"pages missing from mkdocs.yml's nav: {sorted(map(str, on_disk - listed))}"


def test_the_manual_has_http_examples() -> None:
    text = "\n".join(_examples())
    for path in ("/routes", "/routes/matrix", "/itineraries", "/isochrones", "/coverage", "/footprints/analyze",
                 "/proposals"):  # fmt: skip
        assert f"{HOST}{path}" in text, path


def test_every_http_example_runs(settings: Settings, tmp_path: Path) -> None:
    own = settings.model_copy(update={"data_dir": tmp_path / "data"})
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(REPO_ROOT / ".venv")
    # curl as written, but failing on an HTTP error (and quiet about progress).
    shim = tmp_path / "bin"
    shim.mkdir()
    real = shutil.which("curl")
    assert real, "curl is needed to run the examples"
    (shim / "curl").write_text(f'#!/bin/sh\nexec {real} --fail-with-body -sS "$@"\n', encoding="utf-8")
    (shim / "curl").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shim}:{os.environ['PATH']}",
        "VENUE_PLANNER_DATA_DIR": str(own.data_dir),
        "VENUE_PLANNER_CACHE_DIR": str(own.cache_dir),
    }
    with served_app(create_app(own)) as url:
        for block in _examples():
            script = block.replace(HOST, url)
            done = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", script],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"Example failed ({done.returncode}):\n{block}\n--- stdout\n{done.stdout[-2000:]}\n"
                            f"--- stderr\n{done.stderr[-2000:]}")  # fmt: skip
    assert (work / "iso.gpkg").stat().st_size > 10_000
    assert (work / "surface.tif").stat().st_size > 10_000
    assert (work / "proposals.gpkg").stat().st_size > 10_000
