"""A road graph as the compact arrays a routing engine runs on (built once, cacheable).

Per metric (``travel_time_s``, ``length_m``) the cheapest edge of every directed node
pair with its line and street label, every graph edge (parallel ones included) for the
snapped ends of a route, and the contraction hierarchy's node order. Pure: the arrays are
returned, and ``layers`` keeps them on disk (``layers/diskcache.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import routingkit_cch as rk

from geo._kernels import chain_lines
from geo.network import road_class, street_name

if TYPE_CHECKING:
    import networkx as nx
    from numpy.typing import NDArray

__all__ = ["ARRAYS_VERSION", "METRICS", "SEP", "WEIGHT", "Lines", "Metric", "edge_name", "engine_arrays"]

Metric = Literal["fastest", "shortest"]
METRICS: tuple[Metric, ...] = ("fastest", "shortest")
WEIGHT = {"fastest": "travel_time_s", "shortest": "length_m"}
ARRAYS_VERSION = "3"  # 2: the edge table and street label codes; 3: lines end on their nodes
SEP = "\x1f"  # between a street's name and its road class in the per-edge labels


class Lines:
    """The lon/lat line of every edge row, stored flat (one array and offsets; memory-mappable).

    Parameters
    ----------
    flat
        Every line's (lon, lat) points, one after the other.
    offsets
        Where each line starts in ``flat`` (one more than there are lines).
    """

    def __init__(self, flat: NDArray[np.float64], offsets: NDArray[np.int64]) -> None:
        # Plain array views of the (possibly memory-mapped) files: slicing a memmap is slow.
        self.flat = np.asarray(flat).view(np.ndarray)
        self.offsets = np.asarray(offsets).view(np.ndarray)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> NDArray[np.float64]:
        return self.flat[self.offsets[i] : self.offsets[i + 1]]

    def counts(self) -> NDArray[np.int64]:
        """Return the number of points of each line."""
        return np.diff(self.offsets)

    def chain(self, rows: NDArray[np.int64]) -> NDArray[np.float64]:
        """Return the lines of consecutive edges ``rows`` as one (n, 2) line (each joining point once).

        Parameters
        ----------
        rows
            Edge rows, each edge starting where the one before ends.
        """
        return chain_lines(self.flat, self.offsets, rows)


def edge_name(data: dict[str, object]) -> str:
    """Return an edge's street label: its name (names joined by " / "), the unit separator, its road class.

    Parameters
    ----------
    data
        The edge's attributes (``name``, ``highway``).
    """
    return f"{street_name(data)}{SEP}{road_class(data)}"


def _edge_line(graph: nx.MultiDiGraph, u: int, v: int, data: dict[str, Any]) -> NDArray[np.float64]:
    """Return an edge's lon/lat line from node u to node v, without repeated vertices.

    The line starts and ends exactly on its nodes' coordinates, so that the lines of
    consecutive edges share their joining point (see `Lines.chain`).
    """
    a = (graph.nodes[u]["x"], graph.nodes[u]["y"])
    b = (graph.nodes[v]["x"], graph.nodes[v]["y"])
    geom = data.get("geometry")
    if geom is None:
        return np.array([a, b], dtype=float)
    line = np.asarray(geom.coords, dtype=float)[:, :2].copy()
    line[0], line[-1] = a, b
    keep = np.ones(len(line), dtype=bool)
    keep[1:] = np.any(line[1:] != line[:-1], axis=1)
    keep[-1] = True
    line = line[keep]
    return line if len(line) >= 2 else np.array([a, b], dtype=float)


def _edge_table(graph: nx.MultiDiGraph, index: dict[int, int], labels: dict[str, int]) -> dict[str, NDArray[Any]]:
    """Return every graph edge (parallel ones included) as arrays, ordered by (u, v, key).

    This is what the snapped ends of a route need without networkx: per edge its node
    indices, key, travel time, length, street label code, line, and ``rev``, the row of
    the edge running back along it (a two-way street; -1 for none): the first edge from
    v to u whose length is within 2 % (at least 1 m) of this one's.
    """
    n = len(index)
    edges = list(graph.edges(keys=True, data=True))
    kmul = max((int(k) for _, _, k, _ in edges), default=0) + 1
    codes = np.array([(index[u] * n + index[v]) * kmul + int(k) for u, v, k, _ in edges], dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    row_of = {(u, v, int(k)): int(r) for r, (u, v, k, _) in zip(np.argsort(order).tolist(), edges, strict=True)}
    rev = np.full(len(edges), -1, dtype=np.int64)
    lines = []
    for j in order.tolist():
        u, v, k, d = edges[j]
        ln = float(d["length_m"])
        for bk, back in (graph.get_edge_data(v, u) or {}).items():
            if abs(float(back["length_m"]) - ln) < max(1.0, 0.02 * ln):
                rev[row_of[(u, v, int(k))]] = row_of[(v, u, int(bk))]
                break
        lines.append(_edge_line(graph, u, v, d))
    ordered = [edges[j] for j in order.tolist()]
    return {
        "edge.code": codes[order],
        "edge.kmul": np.array([kmul], dtype=np.int64),
        "edge.u": np.array([index[u] for u, _, _, _ in ordered], dtype=np.int64),
        "edge.v": np.array([index[v] for _, v, _, _ in ordered], dtype=np.int64),
        "edge.time": np.array([float(d["travel_time_s"]) for _, _, _, d in ordered], dtype=float),
        "edge.length": np.array([float(d["length_m"]) for _, _, _, d in ordered], dtype=float),
        "edge.label": np.array(
            [labels.setdefault(edge_name(d), len(labels)) for _, _, _, d in ordered], dtype=np.int64
        ),
        "edge.rev": rev,
        "edge.coords": np.concatenate(lines) if lines else np.empty((0, 2)),
        "edge.offsets": np.concatenate([[0], np.cumsum([len(c) for c in lines])]).astype(np.int64),
    }


def engine_arrays(graph: nx.MultiDiGraph) -> dict[str, NDArray[Any]]:
    """Return everything a routing engine needs from a graph, as named arrays.

    Parameters
    ----------
    graph
        A road graph in WGS84 (node ``x``/``y`` in degrees) with ``travel_time_s`` and
        ``length_m`` on every edge; it is not changed.

    Returns
    -------
    dict
        Arrays by name (see `geo.routing.RoutingEngine`), all plain numpy arrays that
        can be saved as ``.npy`` files and memory-mapped back.
    """
    node_ids = np.array(list(graph.nodes), dtype=np.int64)
    index = {int(n): i for i, n in enumerate(node_ids.tolist())}
    out: dict[str, NDArray[Any]] = {
        "node_ids": node_ids,
        "lon": np.array([graph.nodes[n]["x"] for n in node_ids.tolist()], dtype=float),
        "lat": np.array([graph.nodes[n]["y"] for n in node_ids.tolist()], dtype=float),
    }
    labels: dict[str, int] = {}  # street label -> code, shared by the edge table and the metrics
    out.update(_edge_table(graph, index, labels))
    for metric in METRICS:
        wname = WEIGHT[metric]
        best: dict[tuple[int, int], tuple[float, int, float, float]] = {}
        for u, v, k, d in graph.edges(keys=True, data=True):
            pair = (index[u], index[v])
            w = float(d[wname])
            if pair not in best or w < best[pair][0]:
                best[pair] = (w, int(k), float(d["travel_time_s"]), float(d["length_m"]))
        pairs = sorted(best)
        lines = []
        names = []
        for a, b in pairs:
            u, v = int(node_ids[a]), int(node_ids[b])
            data = graph.edges[u, v, best[(a, b)][1]]
            lines.append(_edge_line(graph, u, v, data))
            names.append(labels.setdefault(edge_name(data), len(labels)))
        out[f"{metric}.src"] = np.array([p[0] for p in pairs], dtype=np.int64)
        out[f"{metric}.dst"] = np.array([p[1] for p in pairs], dtype=np.int64)
        out[f"{metric}.w"] = np.array([best[p][0] for p in pairs], dtype=float)
        out[f"{metric}.time"] = np.array([best[p][2] for p in pairs], dtype=float)
        out[f"{metric}.length"] = np.array([best[p][3] for p in pairs], dtype=float)
        out[f"{metric}.key"] = np.array([best[p][1] for p in pairs], dtype=np.int64)
        out[f"{metric}.coords"] = np.concatenate(lines) if lines else np.empty((0, 2))
        out[f"{metric}.offsets"] = np.concatenate([[0], np.cumsum([len(c) for c in lines])]).astype(np.int64)
        out[f"{metric}.label"] = np.array(names, dtype=np.int64)
    out["labels"] = np.array(list(labels), dtype=str)
    # The weight-independent node order of the contraction hierarchy (inertial flow, as
    # RoutingKit recommends for road networks): the slow part of building it, cached with the rest.
    src, dst = out["fastest.src"], out["fastest.dst"]
    out["order"] = np.array(
        rk.compute_order_inertial(len(node_ids), src.tolist(), dst.tolist(), out["lat"].tolist(), out["lon"].tolist()),
        dtype=np.int64,
    )
    return out
