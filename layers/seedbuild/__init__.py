"""Rebuild seeds/ from the raw data collection, deterministically.

Run it with ``venue-planner seeds build``. One module per seed file (roads, population,
subway, heritage, elevation, regional, sites), each reading its raw files, validating them,
writing its seed file and recording its provenance in the `SeedReport`; ``build`` runs them
in order and writes ``seeds/manifest.json`` and ``seeds/README.md``.
"""

from __future__ import annotations

from layers.seedbuild.build import build_seeds
from layers.seedbuild.common import SeedReport

__all__ = ["SeedReport", "build_seeds"]
