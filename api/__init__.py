"""FastAPI service, map pages and command line of the venue planner."""

import os

# Compute requests run in worker processes forked from the warmed server (api/compute.py).
# GNU OpenMP, which pandana's contraction hierarchies use, hangs in a forked child once
# its thread pool has started in the parent; one OpenMP thread per process never starts
# one. The workers give the parallelism instead. Set before pandana is first imported.
os.environ["OMP_NUM_THREADS"] = "1"
