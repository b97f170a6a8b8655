"""Benchmark of the map pages on the shipped data (prints figures; not tests).

Run with ``make bench`` (or ``.venv/bin/python bench/maps.py``). After the start-up work
of the service (engines, reach indexes, the bands of every site page), it builds every
site page, the index and the coverage page five times and prints the median build time
and the size, against the targets (site pages under 500 ms and 3 MB). As a baseline in
the same run, the central axis's road layer is also written the usual folium way
(``folium.GeoJson`` with a Python style function and tooltip).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import folium
from record import save

from api.context import Context
from api.maps import coverage_map, index_map, site_map
from api.maps.base import _MARGIN_LAT, _MARGIN_LON, FastGeoJson, _features_json, _new_map, _road_class
from api.settings import Settings

REPEAT = 5


def timed(fn, repeat: int = REPEAT) -> tuple[float, str]:
    out = ""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def main() -> None:
    ctx = Context.from_settings(Settings(data_dir=Path(tempfile.mkdtemp(prefix="venue-planner-bench-"))))
    t0 = time.perf_counter()
    for mode in ("drive", "walk"):
        ctx.routing.warm(mode)
        ctx.coverage.warm(mode)
    ctx.layers.query("roads-drive", bbox=(116.39, 39.90, 116.40, 39.91))
    ctx.coverage.warm_sites()
    print(f"start-up work (engines, reach indexes, site bands): {time.perf_counter() - t0:.1f} s")
    print(f"site pages, median of {REPEAT} builds (targets: < 500 ms, < 3 MB)")
    worst_ms, worst_mb = 0.0, 0.0
    for sid in ctx.sites.ids():
        ms, html = timed(lambda s=sid: site_map(ctx, s, basemap="osm"))
        mb = len(html.encode()) / 1e6
        worst_ms, worst_mb = max(worst_ms, ms), max(worst_mb, mb)
        flag = "" if ms < 500 and mb < 3 else "   OVER TARGET"
        print(f"  {sid:28s} {ms:7.0f} ms {mb:6.2f} MB{flag}")
    print(f"  worst                        {worst_ms:7.0f} ms {worst_mb:6.2f} MB")
    figures = {"site_page_worst_ms": worst_ms, "site_page_worst_mb": worst_mb}
    ms, html = timed(lambda: index_map(ctx))
    print(f"index page                     {ms:7.0f} ms {len(html.encode()) / 1e6:6.2f} MB")
    figures.update(index_page_ms=ms, index_page_mb=len(html.encode()) / 1e6)
    ms, html = timed(
        lambda: coverage_map(ctx.coverage, ["central-axis", "three-hills-five-gardens", "lugou-wanping"]), 2
    )
    print(f"coverage page (3 sites, 15 min) {ms:6.0f} ms {len(html.encode()) / 1e6:6.2f} MB")
    figures.update(coverage_page_ms=ms, coverage_page_mb=len(html.encode()) / 1e6)
    # Baseline: the central axis's roads the usual folium way, next to the compact layer.
    site = ctx.sites.get("central-axis")
    minx, miny, maxx, maxy = site.boundary.bounds
    roads = ctx.layers.query(
        "roads-drive", bbox=(minx - _MARGIN_LON, miny - _MARGIN_LAT, maxx + _MARGIN_LON, maxy + _MARGIN_LAT)
    )
    roads = roads[["name", "highway", "speed_kph", "geometry"]].copy()
    roads["highway"] = [_road_class(h) for h in roads["highway"]]

    def usual() -> str:
        m = _new_map((site.lat, site.lon), basemap="osm")
        folium.GeoJson(
            roads.to_json(),
            name="roads",
            style_function=lambda f: {
                "color": "#969696" if f["properties"]["highway"] != "primary" else "#fdbb84",
                "weight": 1.5,
            },
            tooltip=folium.GeoJsonTooltip(["name", "highway", "speed_kph"]),
        ).add_to(m)
        return m.get_root().render()

    def compact() -> str:
        m = _new_map((site.lat, site.lon), basemap="osm")
        FastGeoJson(_features_json(roads, tolerance_deg=0.00002), name="roads", style="function (f) { return {}; }",
                    tooltip="esc(p.name)").add_to(m)  # fmt: skip
        return m.get_root().render()

    figures.update(many_proposals(ctx))

    ms_u, h_u = timed(usual, 3)
    ms_c, h_c = timed(compact, 3)
    print(f"central-axis roads only ({len(roads)} edges): folium.GeoJson {ms_u:.0f} ms {len(h_u) / 1e6:.2f} MB; "
          f"compact layer {ms_c:.0f} ms {len(h_c) / 1e6:.2f} MB; ratio {ms_u / ms_c:.1f} x time, {len(h_u) / len(h_c):.1f} x size")  # fmt: skip
    figures["roads_layer_speedup_vs_folium_x"] = ms_u / ms_c
    save("maps", figures)


def many_proposals(ctx: Context, n: int = 2000) -> dict[str, float]:
    """The Lugou page with ``n`` saved proposals (target < 1 s, < 3 MB), next to the 0.3 way of drawing them."""
    import shapely

    base = shapely.box(116.2264, 39.8484, 116.2284, 39.8499)
    analysis = {
        "area_m2": 3400.0,
        "conflicts": [{"severity": "high", "kind": "heritage", "message": "overlaps the museum's protection zone"}],
        "heritage": [{"name": f"building {i}", "overlap_m2": 10.0} for i in range(10)],
    }
    t0 = time.perf_counter()
    for i in range(n):
        geom = shapely.affinity.translate(base, 0.0001 * (i % 40), 0.0001 * (i // 40))
        ctx.proposals.create(
            name=f"proposal {i}", geometry=geom, properties={"use": "hall"}, analysis=analysis, site_id="wanping"
        )
    print(f"\n{n} proposals saved in {time.perf_counter() - t0:.1f} s")
    ms, html = timed(lambda: site_map(ctx, "lugou-wanping", basemap="osm"), 3)
    print(
        f"lugou-wanping page with {n} proposals: {ms:.0f} ms {len(html.encode()) / 1e6:.2f} MB (targets < 1000 ms, < 3 MB)"
    )
    figures = {"site_page_2000_proposals_ms": ms, "site_page_2000_proposals_mb": len(html.encode()) / 1e6}

    def old_way() -> str:  # 0.3.1: every proposal's latest version read whole, one folium layer each
        m = _new_map((39.85, 116.22), basemap="osm")
        fg = folium.FeatureGroup(name="Saved proposals")
        for p in [p for p in ctx.proposals.list() if p.site_id in {"lugou-wanping", "lugou-bridge", "wanping"}]:
            layer = folium.GeoJson(shapely.geometry.mapping(p.geometry), tooltip=p.name)
            folium.Popup(f"<b>{p.name}</b> {p.analysis.get('area_m2', 0):,.0f} m²").add_to(layer)
            layer.add_to(fg)
        fg.add_to(m)
        return m.get_root().render()

    ms_old, h_old = timed(old_way, 1)
    print(f"  the proposals layer alone, the 0.3.1 way: {ms_old:.0f} ms {len(h_old.encode()) / 1e6:.2f} MB")
    return figures


if __name__ == "__main__":
    main()
