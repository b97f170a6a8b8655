/*
 * The venue planner's page script: one file for every map page.
 *
 * A page carries its data as JSON in <script type="application/json" id="vp-page"> (never
 * run, and written with <, > and & escaped, so nothing a planner typed can end it). Once the
 * page's own (folium) script has made the map and its layers, VP.boot reads that data and
 * starts what the page asks for: the notice when the background tiles fail, the layer list
 * folded on small screens, the route/isochrone planner, the footprint draw tool.
 * Text from the service is always shown through VP.esc or textContent.
 */
(function () {
  'use strict';
  var VP = window.VP = {};

  VP.esc = function (s) {
    return String(s === null || s === undefined ? '' : s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  };

  function fmt(x, d) {
    return x === null || x === undefined ? '—' : Number(x).toLocaleString('en', {maximumFractionDigits: d || 0});
  }

  function answer(r) {
    return r.json().then(function (b) { return {ok: r.ok, status: r.status, b: b}; });
  }

  // The looks of the pages' GeoJSON layers, chosen by name from Python (api/maps, FastGeoJson(look=...)):
  // each may give a style(f, a), a point(f, ll, a) marker, a tooltip(p, a) and a popup(p, a), where f is
  // the feature, p its properties and a the layer's arguments (plain JSON from the page). Tooltips and
  // popups are HTML: every text from the data goes through esc.
  var esc = VP.esc;
  function circle(ll, radius, stroke, weight, fill, opacity) {
    return L.circleMarker(ll, {radius: radius, color: stroke, weight: weight, fillColor: fill, fillOpacity: opacity});
  }
  function thousands(x) { return Number(x).toLocaleString('en'); }
  VP.looks = {
    subwayLines: {
      style: function (f) { return {color: f.properties.colour, weight: 4, opacity: 0.8}; },
      tooltip: function (p) {
        return esc(p.name) + (p.shape === 'loop' ? ' (loop)' : '') + ': ' + p.run_minutes.toFixed(0) +
          ' min end to end (modelled, not timetabled)';
      }
    },
    closureCost: {
      style: function (f) { return {color: f.properties.colour, weight: f.properties.w, opacity: 0.85}; },
      tooltip: function (p) {
        return esc(p.street) + ': ' + thousands(p.flow) + ' cars/h; a hold costs ' + thousands(p.cost) +
          ' person-hours (' + esc(p.choice) + ')';
      }
    },
    impactTownships: {
      style: function (f) { return {color: '#636363', weight: 0.7, fillColor: f.properties.colour, fillOpacity: 0.6}; },
      tooltip: function (p) {
        return esc(p.district) + ' ' + esc(p.township) + ': mean +' + p.mean + ' s, p90 +' + p.p90 + ' s, ' +
          thousands(p.cut) + ' people cut off' + (p.walk ? ', walk to the subway +' + p.walk + ' s' : '');
      }
    },
    closedRoads: { style: function () { return {color: '#e31a1c', weight: 6, opacity: 0.9}; } },
    closedAreas: {
      style: function () {
        return {color: '#e31a1c', weight: 2, dashArray: '6 4', fillColor: '#e31a1c', fillOpacity: 0.15};
      }
    },
    closedEntrances: {
      point: function (f, ll) { return circle(ll, 5, '#ffffff', 2, '#e31a1c', 1); },
      tooltip: function (p) { return 'closed: ' + esc(p.name); }
    },
    motorcadeTownships: {
      style: function (f) { return {color: '#555', weight: 1, fillColor: f.properties.colour, fillOpacity: 0.45}; },
      tooltip: function (p) { return esc(p.name) + ': ' + p.ph + ' person-hours'; }
    },
    motorcadeCandidates: {
      style: function (f) { return {color: f.properties.colour, weight: f.properties.w, opacity: 0.8}; },
      tooltip: function (p) { return esc(p.label) + ': convoy ' + p.min + ' min, residents ' + p.ph + ' person-hours'; }
    },
    motorcadeHolds: {
      point: function (f, ll) { return circle(ll, 6, '#333', 1, f.properties.colour, 0.9); },
      tooltip: function (p) {
        return esc(p.start) + '–' + esc(p.end) + ' ' + esc(p.streets) + ': ' + p.persons + ' persons held, ' +
          p.ph + ' person-hours';
      }
    },
    plannerSites: {
      style: function () { return {color: '#b2182b', weight: 1.5, fillOpacity: 0.08}; },
      tooltip: function (p) { return esc(p.name_en) + ' ' + esc(p.name_zh); }
    },
    streetDataEdge: {
      style: function () { return {color: '#525252', weight: 2, dashArray: '8 6'}; },
      tooltip: function (p) {
        return 'street network ' + esc(p.name) + ': beyond this line only the major-road skeleton (driving)';
      }
    },
    regionalSkeleton: {
      style: function () { return {color: '#762a83', weight: 3, dashArray: '6 4'}; },
      tooltip: function (p) {
        return 'major road (regional skeleton, straight chord of ' + Math.round(p.length_m) + ' m; positions ±100 m)';
      }
    },
    // a.colour and a.weight: by road class (api.maps.base), grey and thin for the minor classes.
    roads: {
      style: function (f, a) {
        var h = f.properties.highway;
        return {color: a.colour[h] || '#969696', weight: a.weight[h] || 1.2, opacity: 0.9};
      },
      tooltip: function (p) {
        return esc(p.name || 'unnamed ' + p.highway) + ' — ' + esc(p.highway) + ', ' + p.speed_kph + ' km/h';
      }
    },
    heritageBuildings: {
      style: function () { return {color: '#8c510a', weight: 1, fillColor: '#d8b365', fillOpacity: 0.6}; },
      tooltip: function (p) { return esc(p.name || 'building') + ', ' + Math.round(p.area_m2) + ' m²'; }
    },
    subSites: {
      style: function () { return {color: '#ef8a62', weight: 2, fillOpacity: 0.12}; },
      tooltip: function (p) {
        return '<a href="/maps/sites/' + esc(encodeURIComponent(p.id)) + '">' + esc(p.name_en) + '</a> ' +
          esc(p.name_zh) + '<br>' + esc(p.boundary_source);
      }
    },
    stations: {
      point: function (f, ll) { return circle(ll, 6, '#ffffff', 2, f.properties.colour, 1); },
      tooltip: function (p) { return esc(p.name) + ' — ' + esc(p.lines); }
    },
    entrances: {
      point: function (f, ll) { return circle(ll, 2.5, '#252525', 1, '#252525', 1); },
      tooltip: function (p) { return esc(p.name); }
    },
    populationDensity: {
      style: function (f) { return {color: '#636363', weight: 0.8, fillColor: f.properties.colour, fillOpacity: 0.5}; },
      tooltip: function (p) {
        return esc(p.district) + ' ' + esc(p.township) + ': ' + thousands(p.population) + ' people, ' +
          thousands(p.density) + ' per km²';
      }
    },
    proposals: {
      style: function (f) {
        var c = f.properties.colour;
        return {color: c, weight: 3, fillColor: c, fillOpacity: 0.3};
      },
      tooltip: function (p) { return esc(p.name) + ' (v' + p.version + ')'; },
      popup: function (p) {
        var conflicts = p.conflicts.map(function (c) {
          return '<li><b>' + esc(c.severity) + '</b>: ' + esc(c.message) + '</li>';
        }).join('');
        return '<b class="proposal-name">' + esc(p.name) + '</b> — version ' + p.version + ' of ' + p.versions +
          '<br>' + esc(p.use || '') + ' ' + (p.area_m2 === null ? '' : thousands(Math.round(p.area_m2)) + ' m²') +
          '<ul class="proposal-conflicts">' + (conflicts || '<li>no conflicts</li>') + '</ul>' +
          '<a href="/proposals/' + esc(encodeURIComponent(p.id)) + '/versions" target="_blank">history</a>';
      }
    },
    // a.colour: the band's colour. p.popup is HTML the service rendered from its template (escaped there).
    band: {
      style: function (f, a) { return {color: a.colour, weight: 1, fillColor: a.colour, fillOpacity: 0.22}; },
      popup: function (p) { return p.popup; }
    }
  };

  // A GeoJSON layer drawn with one of VP.looks; an unknown look is a mistake of the page, said loudly.
  VP.geoJsonLayer = function (data, name, args) {
    var look = VP.looks[name];
    if (!look) { throw new Error('venue-planner: no layer look named ' + name); }
    var a = args || {};
    var opts = {
      onEachFeature: function (f, layer) {
        if (look.tooltip) { layer.bindTooltip(look.tooltip(f.properties, a), {sticky: true}); }
        if (look.popup) { layer.bindPopup(look.popup(f.properties, a), {maxWidth: 360}); }
      }
    };
    if (look.style) { opts.style = function (f) { return look.style(f, a); }; }
    if (look.point) { opts.pointToLayer = function (f, ll) { return look.point(f, ll, a); }; }
    return L.geoJSON(data, opts);
  };

  // The distance tool (Leaflet.PolylineMeasure, vendored) as every page sets it.
  VP.measureControl = function (map) {
    return L.control.polylineMeasure({
      position: 'topleft', unit: 'metres', showBearings: false, clearMeasurementsOnStop: false, showClearControl: true
    }).addTo(map);
  };

  // The basemap drawn from the service's own data (/basemap/{z}/{x}/{y}.mvt, vector tiles of the shipped
  // roads, townships, subway, sites and heritage buildings) with protomaps-leaflet. Roads by class, their
  // names along them from zoom 14; townships and sites named (sites in Chinese and English).
  var ROAD = {
    motorway: ['#e8925a', 3.2, 6], trunk: ['#eba05f', 3.0, 6], primary: ['#f3c470', 2.6, 9],
    secondary: ['#f7dc8c', 2.2, 10], tertiary: ['#ffffff', 1.8, 11]
  };
  function roadStyle(f) { return ROAD[String(f.props.kind || '').replace('_link', '')] || null; }

  VP.basemapLayer = function (o) {
    var P = window.protomapsL;
    if (!P) { return L.layerGroup(); }  // the vendored script did not load: nothing to draw with
    var grey = '#8c8c8c';
    var widthAt = function (w) { return function (z) { return z < 12 ? w * 0.6 : (z < 15 ? w : w * 1.6); }; };
    var paint = [
      {dataLayer: 'boundaries', symbolizer: new P.LineSymbolizer({color: '#9e9ac8', width: 1, dash: [4, 3]})},
      {dataLayer: 'skeleton', symbolizer: new P.LineSymbolizer({color: '#e6a770', width: 1.4})},
      {dataLayer: 'sites', symbolizer: new P.PolygonSymbolizer({fill: '#762a83', opacity: 0.07})},
      {dataLayer: 'sites', symbolizer: new P.LineSymbolizer({color: '#762a83', width: 1.2, opacity: 0.6})},
      {dataLayer: 'buildings', minzoom: 14, symbolizer: new P.PolygonSymbolizer({fill: '#dcc9a6', stroke: '#b8a27a', width: 0.5})},
      {dataLayer: 'roads', minzoom: 13, filter: function (z, f) { return !roadStyle(f); },
        symbolizer: new P.LineSymbolizer({color: '#ffffff', width: function (z) { return z < 15 ? 1 : 2; }})},
      {dataLayer: 'roads', filter: function (z, f) { return !!roadStyle(f); },
        symbolizer: new P.LineSymbolizer({color: '#c8b89a', width: function (z, f) { return widthAt(roadStyle(f)[1])(z) + 1.2; }})},
      {dataLayer: 'roads', filter: function (z, f) { return !!roadStyle(f); },
        symbolizer: new P.LineSymbolizer({color: function (z, f) { return roadStyle(f)[0]; },
          width: function (z, f) { return widthAt(roadStyle(f)[1])(z); }})},
      {dataLayer: 'subway', symbolizer: new P.LineSymbolizer({color: function (z, f) { return f.props.colour || grey; },
        width: function (z) { return z < 13 ? 1.5 : 2.5; }, opacity: 0.85})},
      {dataLayer: 'stations', minzoom: 13, symbolizer: new P.CircleSymbolizer({radius: 3, fill: '#ffffff',
        stroke: function (z, f) { return f.props.colour || grey; }, width: 1.5})}
    ];
    var halo = {stroke: '#ffffff', width: 2.5};
    var labels = [
      {dataLayer: 'site_labels', symbolizer: new P.CenteredTextSymbolizer(L.extend({
        labelProps: ['label', 'name'], fill: '#542788', font: '600 13px sans-serif', maxLineChars: 14}, halo))},
      {dataLayer: 'places', minzoom: 12, symbolizer: new P.CenteredTextSymbolizer(L.extend({
        labelProps: ['name'], fill: '#6a6a6a', font: 'italic 12px sans-serif'}, halo))},
      {dataLayer: 'stations', minzoom: 14, symbolizer: new P.OffsetTextSymbolizer(L.extend({
        labelProps: ['name'], fill: '#333333', font: '11px sans-serif', offsetX: 6, offsetY: 4}, halo))},
      {dataLayer: 'roads', minzoom: 14, symbolizer: new P.LineLabelSymbolizer(L.extend({
        labelProps: ['name'], fill: '#3a3a3a', font: '12px sans-serif'}, halo))}
    ];
    var layer = P.leafletLayer({
      url: o.url, maxDataZoom: o.maxDataZoom, minZoom: o.minDataZoom + 1, maxZoom: 19, bounds: o.bounds,
      paintRules: paint, labelRules: labels, backgroundColor: '#f4f1ea', attribution: o.attribution
    });
    layer.on('load', function () { layer.vpLoaded = true; });
    return layer;
  };

  // Offline the OpenStreetMap background cannot load: switch to the basemap drawn from the shipped data
  // (when the page has it), and say so on the map, once.
  VP.tileError = function (tiles, map, basemap) {
    var shown = false;
    // A tile may have failed before this script ran (a blocked request fails at once): look for one too.
    var failedAlready = function () {
      var box = tiles.getContainer && tiles.getContainer();
      if (!box) { return false; }
      return Array.prototype.some.call(box.querySelectorAll('img'), function (im) {
        return im.complete && im.naturalWidth === 0;
      });
    };
    var onError = function () {
      if (shown) { return; }
      shown = true;
      var switched = !!basemap && map.hasLayer(tiles);
      if (switched) {
        map.removeLayer(tiles);
        map.addLayer(basemap);
      }
      var box = L.control({position: 'bottomright'});
      box.onAdd = function () {
        var d = L.DomUtil.create('div', 'tile-error-notice');
        d.id = 'tile-error-notice';
        d.textContent = 'The OpenStreetMap background could not load (no internet here?). ' + (switched
          ? 'Showing the basemap drawn from the shipped data instead (2013 roads, townships, subway, sites).'
          : 'The data layers work without it: choose "No basemap" in the layer list.');
        return d;
      };
      box.addTo(map);
    };
    tiles.on('tileerror', onError);
    if (failedAlready()) { onError(); }
    tiles.on('load', function () { if (failedAlready()) { onError(); } });
  };

  // The layer list is open on a large screen and folded on a small one, where it would cover the map.
  // (What Leaflet's collapse() does; folium declares the control with `let`, out of reach by name.)
  VP.foldLayerList = function () {
    if (window.innerWidth < 1000 || window.innerHeight < 700) {
      document.querySelectorAll('.leaflet-control-layers-expanded').forEach(function (el) {
        el.classList.remove('leaflet-control-layers-expanded');
      });
    }
  };

  // The route planner (kind "route") and the isochrone page (kind "isochrone"): they call the JSON API.
  VP.planner = function (map, kind, colours, lines) {
    window.plannerMap = map;
    var esc = VP.esc;
    var points = [];
    var markers = L.layerGroup().addTo(map);
    var results = L.layerGroup().addTo(map);
    function val(id) { return document.getElementById(id).value; }
    function status(t) { document.getElementById('planner-status').innerHTML = t; }
    function place(i) { var p = points[i]; return typeof p === 'string' ? p : p[0].toFixed(6) + ',' + p[1].toFixed(6); }
    function mark(lonlat, label, colour) {
      L.circleMarker([lonlat[1], lonlat[0]], {radius: 8, color: '#000', weight: 2, fillColor: colour, fillOpacity: 1})
        .bindTooltip(esc(label)).addTo(markers);
    }
    function fail(b) {
      status('<span id="planner-error" class="vp-error">' + esc(b && b.error ? b.error.message : b) + '</span>');
    }
    map.on('click', function (e) {
      var need = kind === 'route' ? 2 : 1;
      if (points.length >= need) { points = []; markers.clearLayers(); results.clearLayers(); }
      points.push([e.latlng.lng, e.latlng.lat]);
      mark(points[points.length - 1], points.length === 1 ? 'origin' : 'destination', points.length === 1 ? '#1a9850' : '#d73027');
      if (points.length === need) { run(); } else { status('Now click the destination.'); }
    });
    window.pickSites = function () {
      points = [val('pick-a')];
      if (kind === 'route') { points.push(val('pick-b')); }
      markers.clearLayers();
      run();
    };
    document.getElementById('pick-go').addEventListener('click', function () { window.pickSites(); });

    // The mode switch: transit shows its departure window and draws the subway lines in their colours;
    // the options transit does not take (the shortest metric, alternatives, street closures) are greyed.
    function modeChanged() {
      var transit = val('mode') === 'transit';
      document.getElementById('transit-options').style.display = transit ? 'block' : 'none';
      ['metric', 'alternatives', 'closures'].forEach(function (id) {
        var el = document.getElementById(id);
        if (el) { el.disabled = transit; }
      });
      if (lines) { if (transit) { map.addLayer(lines); } else { map.removeLayer(lines); } }
    }
    document.getElementById('mode').addEventListener('change', modeChanged);
    modeChanged();

    function showRoutes(b) {
      var rows = '';
      b.features.slice().reverse().forEach(function (f) {
        var k = f.properties.rank;
        L.geoJSON(f, {style: {color: colours[k % colours.length], weight: k === 0 ? 7 : 4, opacity: 0.85, dashArray: k === 0 ? null : '10 8'}})
          .bindTooltip((k === 0 ? 'Best route' : 'Alternative ' + k) + ': ' + (f.properties.travel_time_s / 60).toFixed(1) + ' min').addTo(results);
      });
      b.features.forEach(function (f) {
        var p = f.properties, k = p.rank;
        var seen = {}, main = p.streets.slice().sort(function (x, y) { return y.length_m - x.length_m; })
          .filter(function (s) { var n = !seen[s.label]; seen[s.label] = true; return n; })
          .slice(0, 3).map(function (s) { return esc(s.label); }).join(', ');
        rows += '<tr><td><span style="color:' + colours[k % colours.length] + '">&#9632;</span> ' + k + '</td><td>' + (p.travel_time_s / 60).toFixed(1) +
          ' min</td><td>' + (p.length_m / 1000).toFixed(2) + ' km</td><td>' + Math.round(100 * p.overlap_with_best) + '%</td><td>' + main + '</td></tr>';
      });
      var best = b.features[0].properties, o = best.origin, d = best.destination;
      best.access.forEach(function (leg) {
        if (leg.distance_m > 0) {
          L.polyline(leg.coordinates.map(function (c) { return [c[1], c[0]]; }), {color: '#333', weight: 3, dashArray: '4 6'})
            .bindTooltip(esc(leg.end + ': ' + Math.round(leg.distance_m) + ' m off the road network (straight line)')).addTo(results);
        }
      });
      mark([o.lon, o.lat], 'origin: ' + o.input, '#1a9850');
      mark([d.lon, d.lat], 'destination: ' + d.input, '#d73027');
      var notes = best.warnings.map(function (w) { return '<li>' + esc(w) + '</li>'; }).join('');
      status('<table id="planner-table" class="vp-table"><tr><th>#</th><th>time</th><th>length</th><th>shared</th><th>main streets</th></tr>' + rows + '</table>' +
        (notes ? '<ul id="planner-warnings" class="vp-warnings">' + notes + '</ul>' : ''));
      map.fitBounds(results.getLayers()[0].getBounds(), {padding: [40, 40]});
    }

    // A transit journey: walks dashed, rides in their line's colour; a table of the legs and the window's figures.
    function showTransit(b) {
      var rows = '', sm = b.summary;
      b.features.forEach(function (f) {
        var p = f.properties, ride = p.kind === 'ride';
        L.geoJSON(f, {style: ride ? {color: p.colour || '#333', weight: 7, opacity: 0.9} : {color: '#333', weight: 4, dashArray: '4 8'}})
          .bindTooltip(esc(ride ? p.line_name + ' → ' + p.headsign + ': ' + p.from_name + ' → ' + p.to_name : 'walk: ' + p.from_name + ' → ' + p.to_name))
          .addTo(results);
        rows += '<tr class="transit-leg"><td>' + (ride ? '<span style="color:' + esc(p.colour) + '">&#9632;</span> ' + esc(p.line_name) : 'walk') +
          '</td><td>' + esc(p.from_name) + ' → ' + esc(p.to_name) + (ride ? ' (' + p.stops + ' stops, ' + esc(p.board_time) + '–' + esc(p.alight_time) + ')' : '') +
          '</td><td>' + (ride ? 'wait ' + (p.wait_s / 60).toFixed(1) + (p.transfer_s ? ' + change ' + (p.transfer_s / 60).toFixed(1) : '') + ', ' : '') +
          (p.travel_time_s / 60).toFixed(1) + ' min</td></tr>';
      });
      var o = sm.origin, d = sm.destination;
      mark([o.lon, o.lat], 'origin: ' + o.input, '#1a9850');
      mark([d.lon, d.lat], 'destination: ' + d.input, '#d73027');
      var notes = sm.warnings.map(function (w) { return '<li>' + esc(w) + '</li>'; }).join('');
      status('<div id="transit-summary"><b>' + (sm.p50_s / 60).toFixed(1) + ' min</b> median, ' + (sm.p90_s / 60).toFixed(1) +
        ' min 90th percentile, leaving ' + esc(sm.departure_window) + ' (' + sm.runs + ' runs)' +
        (sm.chosen === 'walk' ? '; walking the whole way is faster' : '') + '</div>' +
        '<table id="planner-table" class="vp-table">' + rows + '</table>' +
        (notes ? '<ul id="planner-warnings" class="vp-warnings">' + notes + '</ul>' : ''));
      var bounds = L.featureGroup(results.getLayers()).getBounds();
      if (bounds.isValid()) { map.fitBounds(bounds, {padding: [40, 40]}); }
    }

    function showBands(b) {
      var n = b.features.length, rows = '';
      b.features.forEach(function (f, i) {
        var c = colours[n - 1 - i], p = f.properties;
        L.geoJSON(f, {style: {color: c, weight: 1, fillColor: c, fillOpacity: 0.25}})
          .bindPopup('<b>' + p.minutes + ' min</b><br>' + (p.truncated ? '≥ ' : '') + Math.round(p.population).toLocaleString('en') + ' people, ' +
            p.station_count + ' stations' + (p.truncated ? '<br><i>reaches the edge of the road network: a lower bound</i>' : ''))
          .addTo(results);
      });
      b.features.slice().reverse().forEach(function (f, i) {
        var p = f.properties;
        // The colour on the swatch only: the light bands' colours are unreadable as text on white.
        rows += '<tr><td><span style="color:' + colours[i] + '">&#9632;</span> ≤ ' + p.minutes + ' min</td><td>' + (p.truncated ? '≥ ' : '') + (p.population / 1e6).toFixed(2) +
          ' M people</td><td>' + p.station_count + ' stations</td><td>' + p.area_km2.toFixed(1) + ' km²</td></tr>';
      });
      mark([b.origin.lon, b.origin.lat], b.origin.input, '#1a9850');
      var head = b.departure_window ? '<div id="transit-summary">Walking and the subway, leaving ' + esc(b.departure_window) + ', ' +
        (b.percentile === 90 ? 'the 90th percentile' : 'the median') + ' of the runs</div>' : '';
      status(head + '<table id="planner-table" class="vp-table">' + rows + '</table>');
      map.fitBounds(results.getLayers()[0].getBounds(), {padding: [20, 20]});
    }

    function run() {
      results.clearLayers();
      status('Working…');
      var transit = val('mode') === 'transit';
      if (kind === 'route') {
        var q = 'origin=' + encodeURIComponent(place(0)) + '&destination=' + encodeURIComponent(place(1)) +
          '&mode=' + encodeURIComponent(val('mode'));
        if (transit) {
          q += '&departure=' + encodeURIComponent(val('departure')) + '&window_min=' + encodeURIComponent(val('window'));
        } else {
          q += '&metric=' + encodeURIComponent(val('metric')) + '&alternatives=' + encodeURIComponent(val('alternatives'));
          val('closures').split(',').map(function (s) { return s.trim(); }).filter(Boolean).forEach(function (s) {
            q += '&close_street=' + encodeURIComponent(s);
          });
        }
        fetch('/routes?' + q).then(answer)
          .then(function (x) { return x.ok ? (transit ? showTransit(x.b) : showRoutes(x.b)) : fail(x.b); }).catch(fail);
      } else {
        var bands = val('bands').split(',').map(Number).filter(function (x) { return x > 0; });
        var body = {origin: points[0], mode: val('mode'), bands_min: bands, reverse: document.getElementById('reverse').checked};
        if (transit) {
          body.departure = val('departure');
          body.window_min = Number(val('window'));
          body.percentile = Number(val('percentile'));
        }
        fetch('/isochrones', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
          .then(answer).then(function (x) { return x.ok ? showBands(x.b) : fail(x.b); }).catch(fail);
      }
    }
    window.runPlanner = run;
  };

  // A site page's draw tool: a drawn polygon is analysed at once and can be saved as a proposal.
  VP.draw = function (map, site) {
    window.plannerMap = map;
    var esc = VP.esc;
    var panel = document.getElementById('footprint-panel');
    var last = null;
    function render(a) {
      var c = a.conflicts.map(function (k) {
        return '<li class="conflict-' + esc(k.severity) + '"><b>' + esc(k.severity) + '</b>: ' + esc(k.message) + '</li>';
      }).join('');
      var e = a.elevation.available ? fmt(a.elevation.elevation_m_min) + '–' + fmt(a.elevation.elevation_m_max) + ' m, slope ≤ ' +
        fmt(a.elevation.slope_pct_max, 1) + ' %' : esc(a.elevation.message);
      panel.innerHTML = '<b>Footprint analysis</b> <a href="#" id="fp-close">×</a><br>' +
        '<span id="fp-area">' + fmt(a.area_m2) + ' m²</span>, perimeter ' + fmt(a.perimeter_m) + ' m<br>' +
        'Site: ' + esc(a.site || '—') + (a.sub_site ? ' / ' + esc(a.sub_site) : '') + '<br>' +
        'People within 500 m / 1 km: ' + fmt(a.population.within_500m) + ' / ' + fmt(a.population.within_1000m) + '<br>' +
        'Nearest drivable road: ' + fmt(a.access.drive_distance_m) + ' m' + (a.access.access_street ? ' (' + esc(a.access.access_street) + ')' : '') + '<br>' +
        'Walk to the subway: ' + fmt(a.access.walk_to_subway_m) + ' m (' + esc(a.access.subway_entrance) + ')<br>' +
        'Terrain: ' + e + '<br>' +
        (a.warnings.length ? '<i>' + esc(a.warnings.join(' ')) + '</i><br>' : '') +
        '<ul id="fp-conflicts" class="vp-list">' + (c || '<li>no conflicts</li>') + '</ul>' +
        '<input id="fp-name" placeholder="proposal name" style="width:60%"> <button id="fp-save">Save as proposal</button><br>' +
        '<input id="fp-key" type="password" placeholder="API key (editor), kept for this tab only" style="width:80%;display:' +
        (sessionStorage.getItem('venuePlannerKey') ? 'none' : 'inline') + '">' +
        '<div id="fp-saved"></div>';
      document.getElementById('fp-close').addEventListener('click', function (ev) { ev.preventDefault(); window.closeFootprint(); });
      document.getElementById('fp-save').addEventListener('click', function () { window.saveFootprint(); });
    }
    map.on('draw:created', function (e) {
      last = e.layer.toGeoJSON().geometry;
      panel.style.display = 'block';
      panel.textContent = 'Analysing…';
      fetch('/footprints/analyze', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({footprint: last})})
        .then(answer)
        .then(function (x) {
          if (!x.ok) {
            panel.innerHTML = '<b>Cannot analyse this footprint</b><br><span id="fp-error">' + esc(x.b.error.message) + '</span>';
          } else { render(x.b); }
        })
        .catch(function (err) { panel.textContent = 'The service did not answer: ' + err; });
    });
    window.closeFootprint = function () { panel.style.display = 'none'; return false; };
    window.saveFootprint = function () {
      var name = document.getElementById('fp-name').value || 'Untitled proposal';
      var typed = document.getElementById('fp-key').value.trim();
      if (typed) { sessionStorage.setItem('venuePlannerKey', typed); }
      var key = sessionStorage.getItem('venuePlannerKey');
      var out = document.getElementById('fp-saved');
      if (!key) { out.innerHTML = '<span id="fp-need-key">Saving needs an API key with the editor role: type it above.</span>'; return; }
      fetch('/proposals', {method: 'POST', headers: {'content-type': 'application/json', 'authorization': 'Bearer ' + key},
        body: JSON.stringify({name: name, footprint: last, site_id: site})})
        .then(answer)
        .then(function (x) {
          if (x.status === 401 || x.status === 403) {
            sessionStorage.removeItem('venuePlannerKey');
            document.getElementById('fp-key').style.display = 'inline';
          }
          out.innerHTML = x.ok ? 'Saved as <b id="fp-saved-id">' + esc(x.b.id) + '</b> (version ' + esc(x.b.version) + ')'
            : '<span id="fp-save-error">' + esc(x.b.error.message) + '</span>';
        });
    };
  };

  // The pointer's position: longitude/latitude and CGCS2000 Gauss-Kruger (EPSG:4548) northing and easting, metres.
  VP.readout = function (map, def) {
    if (!window.proj4) { return; }
    var gk = window.proj4('EPSG:4326', def);
    var box = L.control({position: 'bottomright'});
    box.onAdd = function () {
      var d = L.DomUtil.create('div', 'vp-readout');
      d.id = 'coord-readout';
      d.textContent = 'Move the pointer over the map for its coordinates';
      return d;
    };
    box.addTo(map);
    VP.toEpsg4548 = function (lon, lat) { return gk.forward([lon, lat]); };
    map.on('mousemove', function (e) {
      var p = VP.toEpsg4548(e.latlng.lng, e.latlng.lat);
      document.getElementById('coord-readout').textContent = e.latlng.lng.toFixed(6) + ' E, ' + e.latlng.lat.toFixed(6) +
        ' N · EPSG:4548 N ' + p[1].toFixed(2) + ' m, E ' + p[0].toFixed(2) + ' m';
    });
  };

  // Site labels that do not overlap: the candidate sites first (data-rank 0), then the supporting places,
  // each at the first of right, left, above or below its point that overlaps no label already placed and
  // no map control; a label with no free place is hidden (its name stays in the outline's tooltip) and
  // comes back when a zoom makes room. Placed again after every move, zoom and resize.
  VP.placeLabels = function (map) {
    var GAP = 6;
    function overlaps(r, placed) {
      return placed.some(function (q) {
        return r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom;
      });
    }
    function place() {
      var labels = Array.prototype.slice.call(document.querySelectorAll('.site-label'));
      labels.sort(function (a, b) { return Number(a.dataset.rank || 0) - Number(b.dataset.rank || 0); });
      var controls = Array.prototype.map.call(
        document.querySelectorAll('.leaflet-control, .vp-panel, #site-figures-panel'),
        function (c) { return c.getBoundingClientRect(); });
      var placed = [];
      labels.forEach(function (el) {
        el.style.transform = '';
        el.style.visibility = 'hidden';
        var home = el.getBoundingClientRect();  // its text starts at the point, vertically centred on it
        var w = home.width, h = home.height;
        var tries = [[GAP, 0], [-w - GAP, 0], [-w / 2, -h / 2 - GAP], [-w / 2, h / 2 + GAP]];
        for (var i = 0; i < tries.length; i++) {
          var dx = tries[i][0], dy = tries[i][1];
          var r = {left: home.left + dx, right: home.left + dx + w, top: home.top + dy, bottom: home.top + dy + h};
          if (!overlaps(r, placed) && !overlaps(r, controls)) {
            el.style.transform = 'translate(' + dx + 'px, ' + dy + 'px)';
            el.style.visibility = 'visible';
            el.dataset.placed = ['right', 'left', 'above', 'below'][i];
            placed.push(r);
            return;
          }
        }
        el.dataset.placed = 'hidden';
      });
    }
    map.on('moveend resize', place);  // a zoom ends with a moveend too
    place();
  };

  // Start what the page's data asks for, once the page's own script has made the map.
  VP.boot = function () {
    var el = document.getElementById('vp-page');
    if (!el) { return; }
    var page = JSON.parse(el.textContent);
    var map = window[page.map];
    if (page.tiles) { VP.tileError(window[page.tiles], map, page.basemap ? window[page.basemap] : null); }
    if (page.layer_list) { VP.foldLayerList(); }
    if (page.planner) { VP.planner(map, page.planner.kind, page.planner.colours, window[page.planner.lines]); }
    if (page.draw) { VP.draw(map, page.draw.site); }
    if (page.readout) { VP.readout(map, page.readout.epsg4548); }
    if (page.labels) { VP.placeLabels(map); }
  };
  document.addEventListener('DOMContentLoaded', VP.boot);
})();
