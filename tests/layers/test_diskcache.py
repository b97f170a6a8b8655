"""Objects kept on disk between runs come back equal to a fresh build, and a damaged file is rebuilt."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import shapely

from api.context import Context
from api.settings import Settings
from geo.crs import utm_to_lonlat
from geo.errors import OutsideCoverageError
from geo.snapping import NEAR_M, TIE_M
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


def test_a_mapped_file_maps_its_arrays_read_only(tmp_path: Path) -> None:
    """Large arrays come back as read-only views of the file (no copy), equal to what was built."""
    rng = np.random.default_rng(3)
    built = {"f": rng.random(100_003), "i": np.arange(77, dtype=np.int64), "odd": rng.random((9, 7))[:, 2], "n": 5}
    path = tmp_path / "index.pkl"
    first = load_or_build(path, lambda: built, mapped=True)
    assert first is built  # built, then written
    again = load_or_build(path, lambda: {"rebuilt": True}, mapped=True)
    assert again["n"] == 5
    for k in ("f", "i", "odd"):
        assert np.array_equal(again[k], built[k])
        assert again[k].dtype == built[k].dtype
    assert not again["f"].flags.writeable  # a view of the file
    assert not again["f"].flags.owndata
    # The buffers lie 64-byte aligned in the file.
    assert again["f"].ctypes.data % 64 == 0
    assert again["i"].ctypes.data % 64 == 0
    # A truncated file, or a plain pickle where a mapped file is expected, is rebuilt.
    path.write_bytes(path.read_bytes()[:1000])
    assert load_or_build(path, lambda: {"rebuilt": 1}, mapped=True) == {"rebuilt": 1}
    plain = tmp_path / "plain.pkl"
    load_or_build(plain, lambda: {"plain": 1})
    assert load_or_build(plain, lambda: {"rebuilt": 2}, mapped=True) == {"rebuilt": 2}


def test_the_snapping_grid_equals_the_whole_index_on_the_shipped_roads(ctx: Context) -> None:
    # The segment grid (the cached fast path) against the STRtree over every edge line: the nearest
    # edge, its distance, every edge within TIE_M with the point's fraction along it, the snapped point.
    # Half the points are junctions and vertices of the roads (ties of several edges, fractions 0 and 1).
    net = ctx.networks.get(SEED_NETWORK, "drive")
    grid_index = net.edge_index
    whole = replace(grid_index, grid=None)
    rng = np.random.default_rng(11)
    xy = shapely.get_coordinates(grid_index.geoms[rng.integers(0, len(grid_index.geoms), 600)])
    picks = xy[rng.integers(0, len(xy), 600)]
    lon, lat = utm_to_lonlat(
        np.concatenate([picks[:, 0], rng.uniform(446_000, 456_000, 600)]),
        np.concatenate([picks[:, 1], rng.uniform(4_413_000, 4_423_000, 600)]),
    )
    fast = same = 0
    for lo, la in zip(lon.tolist(), lat.tolist(), strict=True):
        try:
            want = whole.snap(lo, la, max_distance_m=400)
        except OutsideCoverageError:
            with pytest.raises(OutsideCoverageError):
                grid_index.snap(lo, la, max_distance_m=400)
            continue
        got = grid_index.snap(lo, la, max_distance_m=400)
        fast += want.distance_m < NEAR_M - TIE_M
        assert got.distance_m == pytest.approx(want.distance_m, abs=1e-6)
        got_all, want_all = sorted(got.candidates()), sorted(want.candidates())
        assert [c[:3] for c in got_all] == [c[:3] for c in want_all]
        assert [c[3] for c in got_all] == pytest.approx([c[3] for c in want_all], abs=1e-9)
        if (got.u, got.v, got.key) == (want.u, want.v, want.key):  # the STRtree picks any of exact ties
            assert (got.lon, got.lat) == pytest.approx((want.lon, want.lat), abs=1e-9)
            same += 1
    assert fast > 900  # the grid answered nearly all of them
    assert same > 600


def test_a_built_file_removes_the_ones_it_supersedes_and_nothing_else(tmp_path: Path) -> None:
    old_file = tmp_path / "net.edges-v3.pkl"
    old_file.write_bytes(b"old")
    old_dir = tmp_path / "net.edges-v2.pkl"  # a folder matching the pattern goes too
    old_dir.mkdir()
    (old_dir / "x.npy").write_bytes(b"x")
    writing = tmp_path / "net.edges-v9.pkl.123.tmp"  # another process's file being written stays
    writing.write_bytes(b"w")
    other = tmp_path / "net.reach-fastest-v2.pkl"  # another kind of file stays
    other.write_bytes(b"r")
    path = tmp_path / "net.edges-v4.pkl"
    assert load_or_build(path, lambda: {"a": 1}, supersedes="net.edges-v*.pkl*") == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, writing.name, other.name])
    # Read, not built: nothing is removed.
    old_file.write_bytes(b"old")
    assert load_or_build(path, lambda: {"a": 2}, supersedes="net.edges-v*.pkl") == {"a": 1}
    assert old_file.exists()
