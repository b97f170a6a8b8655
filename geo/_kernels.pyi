"""Types of the compiled kernels (geo/_kernels.pyx)."""

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

def near_segments(
    start: NDArray[np.int64],
    segs: NDArray[np.int32],
    data: NDArray[np.float64],
    x0: float,
    y0: float,
    width: int,
    height: int,
    cell: float,
    x: float,
    y: float,
    limit: float,
    tie: float,
) -> tuple[float, list[tuple[float, int, float, float, float]]] | None: ...
def street_runs(
    head_label: int,
    head_length: float,
    head_time: float,
    rows: NDArray[np.int64],
    label: NDArray[np.int64],
    length: NDArray[np.float64],
    time: NDArray[np.float64],
    tail_label: int,
    tail_length: float,
    tail_time: float,
    joins: dict[tuple[int, int], bool],
    joins_of: Callable[[int, int], bool],
) -> list[tuple[int, float, float]]: ...
def chain_lines(
    flat: NDArray[np.float64], offsets: NDArray[np.int64], rows: NDArray[np.int64]
) -> NDArray[np.float64]: ...
def local_detours(
    indptr: NDArray[np.int32],
    indices: NDArray[np.int32],
    weights: NDArray[np.float64],
    src: NDArray[np.int64],
    rows: NDArray[np.int64],
    targets: NDArray[np.int64],
    base: NDArray[np.float64],
    limit: float,
) -> NDArray[np.float64]: ...
