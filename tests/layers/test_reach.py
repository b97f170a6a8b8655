"""A forward reach looks only at the samples on edges leaving reached nodes: the same minutes as looking at all."""

from __future__ import annotations

import numpy as np
import pytest

from api.context import Context
from geo.isochrones import ReachIndex


def test_restricted_reach_equals_the_reach_over_every_sample(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    places = [ctx.routing.resolve(s, mode="drive", label="s") for s in ("temple-of-heaven", "summer-palace")]
    places += [ctx.routing.resolve(s, mode="walk", label="s") for s in ("bell-drum-towers",)]
    rng = np.random.default_rng(11)
    for lon, lat in zip(rng.uniform(116.28, 116.48, 6), rng.uniform(39.86, 39.98, 6), strict=True):
        places.append(ctx.routing.resolve((float(lon), float(lat)), mode="drive", label="p"))
    answers = []
    for p in places:
        index = ctx.coverage.index(p.network)
        answers.append([index.reach([p.snap], limit_min=m) for m in (3.0, 15.0, 30.0)])
    monkeypatch.setattr(ReachIndex, "_samples_leaving", lambda self, nodes: np.arange(len(self.sample_row)))
    for p, got in zip(places, answers, strict=True):
        index = ctx.coverage.index(p.network)
        for m, a in zip((3.0, 15.0, 30.0), got, strict=True):
            b = index.reach([p.snap], limit_min=m)
            assert (a.row0, a.col0) == (b.row0, b.col0)
            assert np.array_equal(a.minutes, b.minutes)
            assert np.isfinite(a.minutes).sum() > 0
