"""Small synthetic fixtures for the pure layer (as osmnx's tests build theirs).

``tests/geo`` tests `geo` alone: graphs of a few dozen nodes made here, never the service
context (the ``ctx`` and ``settings`` fixtures fail here on purpose; tests on the shipped
data live in ``tests/layers`` and ``tests/api``).

The grid: 6 × 6 junctions about 170 m apart near Tiananmen (WGS84), east–west streets
two-way, north–south streets alternately two-way and one-way northbound, speeds by road
class, one bent edge (a line with a middle vertex) and one parallel slow edge.
"""

from __future__ import annotations

import networkx as nx
import pytest
from pyproj import Geod
from shapely.geometry import LineString

GEOD = Geod(ellps="WGS84")
LON0, LAT0 = 116.380, 39.900
DLON, DLAT = 0.002, 0.0015
SIZE = 6  # junctions per side of the synthetic grid
SPEED_KPH = {"secondary": 40.0, "residential": 20.0}


def node_id(row: int, col: int) -> int:
    """Return the id of the junction at ``row`` (south to north) and ``col`` (west to east)."""
    return 1000 + 10 * row + col


def _add(g: nx.MultiDiGraph, u: int, v: int, *, name: str, highway: str, line: LineString | None = None) -> None:
    xs = [g.nodes[u]["x"], g.nodes[v]["x"]] if line is None else [c[0] for c in line.coords]
    ys = [g.nodes[u]["y"], g.nodes[v]["y"]] if line is None else [c[1] for c in line.coords]
    length = float(GEOD.line_length(xs, ys))
    data = {
        "name": name,
        "highway": highway,
        "length_m": length,
        "travel_time_s": length / (SPEED_KPH[highway] / 3.6),
    }
    if line is not None:
        data["geometry"] = line
    g.add_edge(u, v, **data)


def make_grid() -> nx.MultiDiGraph:
    """Return the synthetic grid (a new graph on every call)."""
    g = nx.MultiDiGraph(crs="EPSG:4326")
    for r in range(SIZE):
        for c in range(SIZE):
            g.add_node(node_id(r, c), x=round(LON0 + c * DLON, 7), y=round(LAT0 + r * DLAT, 7))
    for r in range(SIZE):
        highway = "secondary" if r % 3 == 0 else "residential"
        for c in range(SIZE - 1):
            a, b = node_id(r, c), node_id(r, c + 1)
            _add(g, a, b, name=f"东西{r}街", highway=highway)
            _add(g, b, a, name=f"东西{r}街", highway=highway)
    for c in range(SIZE):
        for r in range(SIZE - 1):
            a, b = node_id(r, c), node_id(r + 1, c)
            _add(g, a, b, name=f"南北{c}路", highway="residential")
            if c % 2 == 0:
                _add(g, b, a, name=f"南北{c}路", highway="residential")
    # A bent edge: the street between (2, 2) and (2, 3) bulges north through a middle vertex.
    a, b = node_id(2, 2), node_id(2, 3)
    mid = (LON0 + 2.5 * DLON, LAT0 + 2 * DLAT + 0.0004)
    g.remove_edge(a, b)
    g.remove_edge(b, a)
    bent = LineString([(g.nodes[a]["x"], g.nodes[a]["y"]), mid, (g.nodes[b]["x"], g.nodes[b]["y"])])
    _add(g, a, b, name="东西2街", highway="residential", line=bent)
    _add(g, b, a, name="东西2街", highway="residential", line=LineString(bent.coords[::-1]))
    # A parallel edge between the same junctions: shorter but slower (an alley).
    a, b = node_id(4, 0), node_id(4, 1)
    alley = LineString([(g.nodes[a]["x"], g.nodes[a]["y"]), (g.nodes[b]["x"], g.nodes[b]["y"])])
    g.add_edge(
        a,
        b,
        name="胡同",
        highway="residential",
        length_m=float(GEOD.line_length(*alley.xy)) - 1.0,
        travel_time_s=300.0,
        geometry=alley,
    )
    return g


@pytest.fixture
def grid() -> nx.MultiDiGraph:
    """Return the synthetic 36-junction grid."""
    return make_grid()


@pytest.fixture(scope="session")
def ctx() -> None:
    pytest.fail("tests/geo tests the pure layer on synthetic fixtures; move a test on the shipped data to tests/layers")


@pytest.fixture(scope="session")
def settings() -> None:
    pytest.fail("tests/geo tests the pure layer on synthetic fixtures; move a test on the shipped data to tests/layers")
