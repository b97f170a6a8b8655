"""Speed of one closure plan's evaluation (issue 15): prints figures; not tests.

Run with ``make bench`` (or ``.venv/bin/python bench/impact.py``). In one run, on the shipped
central drive network:

- the planner: `ImpactService.evaluate` of a plan (township-to-township matrices before and
  after on the CCH engine with the closed arcs re-customised, the gravity model, the walk to
  the subway, the ten worst pairs with their routes), for several plans in turn;
- the baseline: the same two township matrices with plain Dijkstra (scipy, one search per
  township on the graph with and without the closed edges), which is what a planner would
  run by hand with networkx or scipy;
- the agreement of the two matrices (max absolute difference, seconds).
"""

from __future__ import annotations

import re
import statistics
import time

import numpy as np
import scipy.sparse.csgraph as csg
import shapely
from record import save

from api.context import Context
from api.settings import Settings
from layers.impact import ClosurePlan
from layers.networks import SEED_NETWORK
from layers.routing import Closures

PLANS = [
    ClosurePlan("Chang'an Avenue", Closures(streets=("东长安街", "西长安街"))),
    ClosurePlan("Qianmen", Closures(streets=("前门大街",)), entrances=("前门",)),
    ClosurePlan("Tiananmen area", Closures(areas=(shapely.box(116.385, 39.900, 116.405, 39.915),))),
    ClosurePlan("North 4th Ring (west)", Closures(streets=("北四环西路",))),
]


def main() -> None:
    """Print the figures."""
    ctx = Context.from_settings(Settings())
    net = ctx.networks.get(SEED_NETWORK, "drive")
    eng = ctx.routing.engine(net)
    towns = ctx.impact.towns(net)
    ctx.impact.evaluate(ClosurePlan())  # warm: engines, townships, walk index
    print(f"{len(towns.rows)} townships on {net.name}; {len(towns.rows) ** 2:,} pairs per matrix")
    print(f"{'plan':24} {'planner s':>10} {'dijkstra s':>11} {'ratio':>6} {'max |diff| s':>13} {'person-h':>9}")
    figures: dict[str, float] = {}
    for plan in PLANS:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            res = ctx.impact.evaluate(plan)
            times.append(time.perf_counter() - t0)
        # Baseline: Dijkstra from every township's node, before and after (closed edges removed).
        shut = ctx.routing.closed_edges(net, plan.closures) if plan.closures else set()
        mask = eng.edge_mask(shut, metric="fastest") if shut else np.zeros(len(eng._src["fastest"]), bool)
        t0 = time.perf_counter()
        g = eng._csr["fastest"]
        src = np.array([eng.index[s.v] for s in towns.snaps])
        csg.dijkstra(g, indices=src)  # the matrix before, as a planner would compute it
        g2 = g.copy()
        g2.data = np.where(mask, 0.0, g2.data)
        g2.eliminate_zeros()
        after = csg.dijkstra(g2, indices=src)
        base = time.perf_counter() - t0
        # Node to node: compare with the engine's node-to-node matrix on the same nodes.
        node_snaps = [net.edge_index.snap(float(eng.lon[i]), float(eng.lat[i]), max_distance_m=1.0) for i in src[:20]]
        eng_after = eng.matrix(node_snaps, node_snaps, blocked=mask if shut else None)
        ref = after[:20][:, src[:20]]
        ok = np.isfinite(ref) & np.isfinite(eng_after)
        diff = float(np.abs(eng_after[ok] - ref[ok]).max()) if ok.any() else 0.0
        med = statistics.median(times)
        print(f"{plan.name:24} {med:10.3f} {base:11.3f} {base / med:6.1f} {diff:13.3f} {res.person_hours_lost:9,.0f}")
        slug = re.sub(r"[^a-z0-9]+", "_", plan.name.lower()).strip("_")
        figures[f"{slug}_evaluate_s"] = med
        figures[f"{slug}_speedup_vs_dijkstra_x"] = base / med
        figures[f"{slug}_max_diff_vs_dijkstra"] = diff
    print("target: one plan <= 2 s on the central network")
    save("impact", figures)


if __name__ == "__main__":
    main()
