"""Objects kept on disk between runs come back equal to a fresh build, and a damaged file is rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from api.context import Context
from api.settings import Settings
from layers.diskcache import load_or_build
from layers.networks import SEED_NETWORK


def test_a_warm_start_reads_what_the_cold_start_built(settings: Settings, ctx: Context) -> None:
    # `ctx` has built (and written) the indexes; a second context on the same cache reads them.
    net = ctx.networks.get(SEED_NETWORK, "drive")
    first = ctx.coverage.index(net)
    snap = net.edge_index.snap(116.397, 39.915, max_distance_m=500)
    files = sorted(p.name for p in settings.cache_dir.glob(f"{net.cache_key}.*.pkl"))
    assert any(".reach-fastest-" in f for f in files)
    assert any(".edges-v" in f for f in files)
    other = Context.from_settings(settings)
    net2 = other.networks.get(SEED_NETWORK, "drive")
    second = other.coverage.index(net2)
    assert second is not first
    snap2 = net2.edge_index.snap(116.397, 39.915, max_distance_m=500)
    assert (snap.u, snap.v, snap.key) == (snap2.u, snap2.v, snap2.key)
    a = first.reach([snap], limit_min=10).band(10)
    b = second.reach([snap2], limit_min=10).band(10)
    assert a.area_m2 == b.area_m2
    assert np.array_equal(net.edge_index.edges, net2.edge_index.edges)
    assert other.layers.query("roads-drive").shape == ctx.layers.query("roads-drive").shape


def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "thing.pkl"
    assert load_or_build(path, lambda: {"a": 1}) == {"a": 1}
    assert load_or_build(path, lambda: {"a": 2}) == {"a": 1}  # read, not rebuilt
    path.write_bytes(b"not a pickle")
    assert load_or_build(path, lambda: {"a": 3}) == {"a": 3}
    assert load_or_build(path, lambda: {"a": 4}) == {"a": 3}
    # A cache that cannot be written (here its folder is a file) only costs the recomputation.
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder", encoding="utf-8")
    assert load_or_build(blocked / "x.pkl", lambda: 5) == 5
    assert load_or_build(blocked / "x.pkl", lambda: 6) == 6
