"""FastAPI service, map pages and command line of the venue planner."""

import os

# Compute requests run in worker processes forked from the warmed server (api/compute.py).
# A native thread pool (OpenMP, OpenBLAS) started in the parent hangs a forked child; one
# thread per process never starts one. The workers give the parallelism instead. Set
# before numpy and the other native libraries are first imported.
os.environ["OMP_NUM_THREADS"] = "1"
