"""Types of the compiled transit kernels (geo/_transit.pyx)."""

import numpy as np
from numpy.typing import NDArray

def raptor(
    ready0: NDArray[np.float64],
    pat_start: NDArray[np.int64],
    pat_stops: NDArray[np.int32],
    pat_secs: NDArray[np.float64],
    stop_pat_start: NDArray[np.int64],
    stop_pat: NDArray[np.int32],
    stop_pos: NDArray[np.int32],
    win_start: NDArray[np.float64],
    win_end: NDArray[np.float64],
    headway: NDArray[np.float64],
    phase: NDArray[np.float64],
    half: int,
    transfer: NDArray[np.float64],
    closed: NDArray[np.uint8],
    max_rides: int,
    cutoff: float,
    best: NDArray[np.float64],
    arr_round: NDArray[np.float64],
    via: NDArray[np.int32],
    record: int,
) -> None: ...
def egress_min(
    arrive: NDArray[np.float64],
    indptr: NDArray[np.int64],
    nodes: NDArray[np.int32],
    secs: NDArray[np.float32],
    out: NDArray[np.float32],
) -> None: ...
def raptor_runs(
    access: NDArray[np.float64],
    deps: NDArray[np.float64],
    pat_start: NDArray[np.int64],
    pat_stops: NDArray[np.int32],
    pat_secs: NDArray[np.float64],
    stop_pat_start: NDArray[np.int64],
    stop_pat: NDArray[np.int32],
    stop_pos: NDArray[np.int32],
    win_start: NDArray[np.float64],
    win_end: NDArray[np.float64],
    headway: NDArray[np.float64],
    phases: NDArray[np.float64],
    transfer: NDArray[np.float64],
    closed: NDArray[np.uint8],
    max_rides: int,
    limit: float,
    out: NDArray[np.float64],
    egress: NDArray[np.float64],
    lower: NDArray[np.float64],
    prune: int,
    path: NDArray[np.int32],
    path_egress: float,
) -> None: ...
