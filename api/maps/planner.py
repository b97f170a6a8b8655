"""The interactive route planner and isochrone pages (they call the JSON API)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import folium
import geopandas as gpd
import shapely

from api.maps.base import (
    _ROUTE_COLOURS,
    BAND_COLOURS,
    FastGeoJson,
    _esc,
    _features_json,
    _js_json,
    _new_map,
    _page,
    _panel,
    _Raw,
    _root,
    _script,
)
from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from api.context import Context

_PLANNER_JS = """
(function () {
  var map = MAP;
  window.plannerMap = map;
  var KIND = PAGEKIND;
  var points = [];
  var markers = L.layerGroup().addTo(map);
  var results = L.layerGroup().addTo(map);
  var colours = COLOURS;
  function esc(s) { return String(s === null || s === undefined ? '' : s).replace(/[&<>"]/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); }
  function val(id) { return document.getElementById(id).value; }
  function status(t) { document.getElementById('planner-status').innerHTML = t; }
  function place(i) { var p = points[i]; return typeof p === 'string' ? p : p[0].toFixed(6) + ',' + p[1].toFixed(6); }
  function mark(lonlat, label, colour) {
    L.circleMarker([lonlat[1], lonlat[0]], {radius: 8, color: '#000', weight: 2, fillColor: colour, fillOpacity: 1})
      .bindTooltip(label).addTo(markers);
  }
  map.on('click', function (e) {
    var need = KIND === 'route' ? 2 : 1;
    if (points.length >= need) { points = []; markers.clearLayers(); results.clearLayers(); }
    points.push([e.latlng.lng, e.latlng.lat]);
    mark(points[points.length - 1], points.length === 1 ? 'origin' : 'destination', points.length === 1 ? '#1a9850' : '#d73027');
    if (points.length === need) { window.runPlanner(); } else { status('Now click the destination.'); }
  });
  window.pickSites = function () {
    points = [val('pick-a')];
    if (KIND === 'route') { points.push(val('pick-b')); }
    markers.clearLayers();
    window.runPlanner();
  };
  document.getElementById('pick-go').addEventListener('click', function () { window.pickSites(); });
  function fail(b) { status('<span id="planner-error" style="color:#b2182b">' + esc(b.error ? b.error.message : b) + '</span>'); }
  window.runPlanner = function () {
    results.clearLayers();
    status('Working…');
    if (KIND === 'route') {
      var q = 'origin=' + encodeURIComponent(place(0)) + '&destination=' + encodeURIComponent(place(1)) +
        '&mode=' + val('mode') + '&metric=' + val('metric') + '&alternatives=' + val('alternatives');
      val('closures').split(',').map(function (s) { return s.trim(); }).filter(Boolean).forEach(function (s) {
        q += '&close_street=' + encodeURIComponent(s); });
      fetch('/routes?' + q).then(function (r) { return r.json().then(function (b) { return {ok: r.ok, b: b}; }); }).then(function (x) {
        if (!x.ok) { return fail(x.b); }
        var rows = '';
        x.b.features.slice().reverse().forEach(function (f) {
          var k = f.properties.rank;
          L.geoJSON(f, {style: {color: colours[k % colours.length], weight: k === 0 ? 7 : 4, opacity: 0.85, dashArray: k === 0 ? null : '10 8'}})
            .bindTooltip((k === 0 ? 'Best route' : 'Alternative ' + k) + ': ' + (f.properties.travel_time_s / 60).toFixed(1) + ' min').addTo(results);
        });
        x.b.features.forEach(function (f) {
          var p = f.properties, k = p.rank;
          var seen = {}, main = p.streets.slice().sort(function (a, b) { return b.length_m - a.length_m; })
            .filter(function (s) { var n = !seen[s.label]; seen[s.label] = true; return n; })
            .slice(0, 3).map(function (s) { return esc(s.label); }).join(', ');
          rows += '<tr><td style="color:' + colours[k % colours.length] + '">&#9632; ' + k + '</td><td>' + (p.travel_time_s / 60).toFixed(1) +
            ' min</td><td>' + (p.length_m / 1000).toFixed(2) + ' km</td><td>' + Math.round(100 * p.overlap_with_best) + '%</td><td>' + main + '</td></tr>';
        });
        var best = x.b.features[0].properties, o = best.origin, d = best.destination;
        best.access.forEach(function (leg) {
          if (leg.distance_m > 0) {
            L.polyline(leg.coordinates.map(function (c) { return [c[1], c[0]]; }), {color: '#333', weight: 3, dashArray: '4 6'})
              .bindTooltip(esc(leg.end + ': ' + Math.round(leg.distance_m) + ' m off the road network (straight line)')).addTo(results);
          }
        });
        mark([o.lon, o.lat], 'origin: ' + o.input, '#1a9850'); mark([d.lon, d.lat], 'destination: ' + d.input, '#d73027');
        var notes = best.warnings.map(function (w) { return '<li>' + esc(w) + '</li>'; }).join('');
        status('<table id="planner-table" style="border-collapse:collapse;font-size:12px"><tr><th>#</th><th>time</th><th>length</th><th>shared</th><th>main streets</th></tr>' + rows + '</table>' +
          (notes ? '<ul id="planner-warnings" style="max-width:420px;font-size:12px;color:#8c510a">' + notes + '</ul>' : ''));
        map.fitBounds(results.getLayers()[0].getBounds(), {padding: [40, 40]});
      }).catch(fail);
    } else {
      var origin = typeof points[0] === 'string' ? points[0] : points[0];
      var bands = val('bands').split(',').map(Number).filter(function (x) { return x > 0; });
      fetch('/isochrones', {method: 'POST', headers: {'content-type': 'application/json'},
        body: JSON.stringify({origin: origin, mode: val('mode'), bands_min: bands, reverse: document.getElementById('reverse').checked})})
        .then(function (r) { return r.json().then(function (b) { return {ok: r.ok, b: b}; }); }).then(function (x) {
          if (!x.ok) { return fail(x.b); }
          var n = x.b.features.length, rows = '';
          x.b.features.forEach(function (f, i) {
            var c = colours[n - 1 - i], p = f.properties;
            L.geoJSON(f, {style: {color: c, weight: 1, fillColor: c, fillOpacity: 0.25}})
              .bindPopup('<b>' + p.minutes + ' min</b><br>' + (p.truncated ? '≥ ' : '') + Math.round(p.population).toLocaleString('en') + ' people, ' + p.station_count + ' stations' + (p.truncated ? '<br><i>reaches the edge of the road network: a lower bound</i>' : ''))
              .addTo(results);
          });
          x.b.features.slice().reverse().forEach(function (f, i) {
            var p = f.properties;
            rows += '<tr><td style="color:' + colours[i] + '">&#9632; ≤ ' + p.minutes + ' min</td><td>' + (p.truncated ? '≥ ' : '') + (p.population / 1e6).toFixed(2) +
              ' M people</td><td>' + p.station_count + ' stations</td><td>' + p.area_km2.toFixed(1) + ' km²</td></tr>';
          });
          var o = x.b.origin;
          mark([o.lon, o.lat], esc(o.input), '#1a9850');
          status('<table id="planner-table" style="border-collapse:collapse;font-size:12px">' + rows + '</table>');
          map.fitBounds(results.getLayers()[0].getBounds(), {padding: [20, 20]});
        }).catch(fail);
    }
  };
})();
"""


# The planner opens on two different places, so that the first click on Route answers.
PLANNER_ORIGIN = "capital-airport"
PLANNER_DESTINATION = "forbidden-city"
PLANNER_ORIGIN_ISO = "temple-of-heaven"


def _context_layers(ctx: Context, m: folium.Map, df: gpd.GeoDataFrame) -> None:
    """Draw what a planner needs to see before the first click: the sites and where the road data ends; fit to it."""
    FastGeoJson(
        _features_json(df[["id", "name_en", "name_zh", "geometry"]], tolerance_deg=0.0001),
        name=f"Sites ({len(df)})",
        style="function (f) { return {color: '#b2182b', weight: 1.5, fillOpacity: 0.08}; }",
        tooltip="esc(p.name_en) + ' ' + esc(p.name_zh)",
    ).add_to(m)
    nets = [n for n in ctx.networks.all("drive") if not n.source.regional]
    frame = gpd.GeoDataFrame(
        {"name": [n.name for n in nets]},
        geometry=[shapely.LineString(n.extent.exterior.coords) for n in nets],
        crs=4326,
    )
    FastGeoJson(
        _features_json(frame, tolerance_deg=0.0005),
        name="Where the street data ends",
        style="function (f) { return {color: '#525252', weight: 2, dashArray: '8 6'}; }",
        tooltip="'street network ' + esc(p.name) + ': beyond this line only the major-road skeleton (driving)'",
    ).add_to(m)
    minx, miny, maxx, maxy = shapely.union_all(frame.geometry.to_numpy()).bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])


def planner_map(ctx: Context, *, kind: str = "route", basemap: str = "osm") -> str:
    """Return the interactive route planner (``kind="route"``) or isochrone page (``"isochrone"``).

    Click the map (origin, then destination) or pick sites; the page calls the JSON API
    (``GET /routes`` or ``POST /isochrones``) and draws the answer with its figures.
    """
    if kind not in ("route", "isochrone"):
        raise InvalidInputError(f"`kind` must be route or isochrone; got {kind!r}.")
    m = _new_map((39.905, 116.39), basemap=basemap, zoom=12)
    df = ctx.sites.frame()

    def opts(selected: str) -> str:
        return "".join(
            f'<option value="{_esc(r["id"])}"{" selected" if r["id"] == selected else ""}>{_esc(str(r["name_en"]))}</option>'
            for r in df.to_dict("records")
        )

    _context_layers(ctx, m, df)
    if kind == "route":
        form = (
            "Click the origin, then the destination, or pick two sites:<br>"
            f"<select id='pick-a'>{opts(PLANNER_ORIGIN)}</select> → <select id='pick-b'>{opts(PLANNER_DESTINATION)}</select> "
            "<button id='pick-go'>Route</button><br>"
            "<select id='mode'><option>drive</option><option>walk</option></select> "
            "<select id='metric'><option>fastest</option><option>shortest</option></select> "
            "alternatives <select id='alternatives'><option>1</option><option>2</option><option selected>3</option></select><br>"
            "closed streets <input id='closures' placeholder='前门大街, …' style='width:60%'>"
        )
        title = "Route planner"
    else:
        form = (
            "Click a point, or pick a site:<br>"
            f"<select id='pick-a'>{opts(PLANNER_ORIGIN_ISO)}</select> <button id='pick-go'>Isochrones</button><br>"
            "<select id='mode'><option>drive</option><option>walk</option></select> "
            "bands <input id='bands' value='5,10,15,30' style='width:90px'> min "
            "<label><input type='checkbox' id='reverse'> to the point</label>"
        )
        title = "Isochrones"
    body = f"{form}<div id='planner-status' style='margin-top:6px'>Routes come from the JSON API.</div>"
    _root(m).html.add_child(_panel(title, body))
    colours = list(_ROUTE_COLOURS) if kind == "route" else list(BAND_COLOURS)
    js = (
        _PLANNER_JS.replace("MAP", m.get_name())
        .replace("PAGEKIND", _js_json(kind))
        .replace("COLOURS", _js_json(colours))
    )
    _script(m, js)
    folium.LayerControl(collapsed=True).add_to(m)
    _root(m).header.add_child(_Raw(f"<title>{title} — venue planner</title>"))
    return _page(m)
