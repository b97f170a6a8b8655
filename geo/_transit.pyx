# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled inner loops of public transport: RAPTOR rounds over frequency-based patterns,
and the walk from every station reached to the nodes around it.

`geo.transit` documents the model and calls these; `geo/_transit.pyi` types them for mypy.
"""

import numpy as np

from libc.math cimport ceil, INFINITY


cdef inline double _next_start(
    double x,
    const double* win_start,
    const double* win_end,
    const double* headway,
    const double* phase,
    Py_ssize_t n_win,
    int half,
) noexcept nogil:
    """The first trip of a pattern that leaves its first stop at or after ``x`` (seconds).

    Trips leave every headway within each window, the first one ``phase`` after the window
    opens; with ``half`` every trip is taken to leave half a headway after ``x`` (the mean
    wait of a random arrival), as long as ``x`` is within the service. ``headway`` and
    ``phase`` are the pattern's rows (one value per window).
    """
    cdef Py_ssize_t w
    cdef double h, first, t
    for w in range(n_win):
        if win_end[w] <= x:
            continue
        h = headway[w]
        if half:
            if x < win_start[w]:
                return win_start[w] + 0.5 * h
            return x + 0.5 * h
        first = win_start[w] + phase[w]
        if x <= first:
            return first
        t = first + ceil((x - first) / h) * h
        if t < win_end[w]:
            return t
    return INFINITY


cdef void _core(
    const double[::1] ready0,
    const long long[::1] pat_start,
    const int[::1] pat_stops,
    const double[::1] pat_secs,
    const long long[::1] stop_pat_start,
    const int[::1] stop_pat,
    const int[::1] stop_pos,
    const double[::1] win_start,
    const double[::1] win_end,
    const double[:, ::1] headway,
    const double[:, ::1] phase,
    int half,
    const double[::1] transfer,
    const unsigned char[::1] closed,
    int max_rides,
    double cutoff,
    double[::1] best,
    double[:, ::1] arr_round,
    int[:, :, ::1] via,
    int record,
    double[::1] ready,
    int[::1] ready_round,
    double[::1] arr_k,
    unsigned char[::1] marked,
    unsigned char[::1] marked_new,
    long long[::1] first_pos,
    const double[::1] egress,
    const double[::1] lower,
    int prune,
) noexcept:
    cdef Py_ssize_t n_st = ready0.shape[0]
    cdef Py_ssize_t n_pat = pat_start.shape[0] - 1
    cdef Py_ssize_t s, p, i, j, k, b
    cdef long long pos
    cdef double trip, a, dep, x
    cdef double bound = cutoff
    cdef Py_ssize_t n_win = win_start.shape[0]
    cdef int any_marked = 0
    for s in range(n_st):
        best[s] = INFINITY
        ready[s] = ready0[s]
        ready_round[s] = 0
        marked[s] = 0
        marked_new[s] = 0
        if ready0[s] < INFINITY and not closed[s]:
            marked[s] = 1
            any_marked = 1
    for k in range(1, max_rides + 1):
        if not any_marked:
            break
        for p in range(n_pat):
            first_pos[p] = -1
        for s in range(n_st):
            if marked[s]:
                for j in range(stop_pat_start[s], stop_pat_start[s + 1]):
                    p = stop_pat[j]
                    pos = pat_start[p] + stop_pos[j]
                    if first_pos[p] < 0 or pos < first_pos[p]:
                        first_pos[p] = pos
                marked[s] = 0
        for s in range(n_st):
            arr_k[s] = INFINITY
        for p in range(n_pat):
            if first_pos[p] < 0:
                continue
            trip = INFINITY
            b = -1
            for i in range(first_pos[p], pat_start[p + 1]):
                s = pat_stops[i]
                if closed[s]:
                    continue
                if trip < INFINITY:
                    a = trip + pat_secs[i]
                    if a < best[s] and a < bound and (not prune or a + lower[s] < bound):
                        best[s] = a
                        arr_k[s] = a
                        marked_new[s] = 1
                        if prune and a + egress[s] < bound:
                            bound = a + egress[s]
                        if record:
                            arr_round[k, s] = a
                            via[k, s, 0] = <int>p
                            via[k, s, 1] = <int>b
                            via[k, s, 2] = <int>i
                            via[k, s, 3] = ready_round[pat_stops[b]]
                x = ready[s]
                if x < INFINITY and (trip == INFINITY or x < trip + pat_secs[i]):
                    dep = _next_start(
                        x - pat_secs[i], &win_start[0], &win_end[0], &headway[p, 0], &phase[p, 0], n_win, half
                    )
                    if dep < trip:
                        trip = dep
                        b = i
        any_marked = 0
        for s in range(n_st):
            if marked_new[s]:
                marked_new[s] = 0
                marked[s] = 1
                any_marked = 1
                if arr_k[s] + transfer[s] < ready[s]:
                    ready[s] = arr_k[s] + transfer[s]
                    ready_round[s] = <int>k


cdef double _path_arrival(
    double x,
    const int[:, ::1] path,
    const int[::1] pat_stops,
    const double[::1] pat_secs,
    const double[::1] win_start,
    const double[::1] win_end,
    const double[:, ::1] headway,
    const double[:, ::1] phase,
    const double[::1] transfer,
    Py_ssize_t n_win,
) noexcept:
    """When one reaches the last station of ``path`` (rows: pattern, boarding and alighting
    positions) ready to board its first ride at ``x``, with the waits of these phases."""
    cdef Py_ssize_t r, p, b, a
    cdef double dep, arr = INFINITY
    for r in range(path.shape[0]):
        p = path[r, 0]
        b = path[r, 1]
        a = path[r, 2]
        dep = _next_start(x - pat_secs[b], &win_start[0], &win_end[0], &headway[p, 0], &phase[p, 0], n_win, 0)
        if dep == INFINITY:
            return INFINITY
        arr = dep + pat_secs[a]
        x = arr + transfer[pat_stops[a]]
    return arr


def raptor(
    const double[::1] ready0,
    const long long[::1] pat_start,
    const int[::1] pat_stops,
    const double[::1] pat_secs,
    const long long[::1] stop_pat_start,
    const int[::1] stop_pat,
    const int[::1] stop_pos,
    const double[::1] win_start,
    const double[::1] win_end,
    const double[:, ::1] headway,
    const double[:, ::1] phase,
    int half,
    const double[::1] transfer,
    const unsigned char[::1] closed,
    int max_rides,
    double cutoff,
    double[::1] best,
    double[:, ::1] arr_round,
    int[:, :, ::1] via,
    int record,
):
    """Earliest arrival at every station by vehicle, in at most ``max_rides`` rides.

    ``ready0[s]``: when one can first board at station ``s`` (inf: not reached on foot).
    ``best`` (out): the earliest arrival at each station by any ride. With ``record``,
    ``arr_round[k, s]`` is the arrival with exactly k rides and ``via[k, s]`` holds
    (pattern, boarding position, alighting position, round the boarding was reached in)
    for rebuilding the journey. A closed station is passed through: nobody boards or
    alights there. Changing vehicles at a station takes ``transfer[s]``.
    """
    cdef Py_ssize_t n_st = ready0.shape[0]
    cdef Py_ssize_t n_pat = pat_start.shape[0] - 1
    _core(
        ready0, pat_start, pat_stops, pat_secs, stop_pat_start, stop_pat, stop_pos, win_start, win_end, headway,
        phase, half, transfer, closed, max_rides, cutoff, best, arr_round, via, record,
        np.empty(n_st), np.empty(n_st, dtype=np.int32), np.empty(n_st), np.empty(n_st, dtype=np.uint8),
        np.empty(n_st, dtype=np.uint8), np.empty(n_pat, dtype=np.int64), np.empty(1), np.empty(1), 0,
    )
    return None


def raptor_runs(
    const double[::1] access,
    const double[::1] deps,
    const long long[::1] pat_start,
    const int[::1] pat_stops,
    const double[::1] pat_secs,
    const long long[::1] stop_pat_start,
    const int[::1] stop_pat,
    const int[::1] stop_pos,
    const double[::1] win_start,
    const double[::1] win_end,
    const double[:, ::1] headway,
    const double[:, :, ::1] phases,
    const double[::1] transfer,
    const unsigned char[::1] closed,
    int max_rides,
    double limit,
    double[:, ::1] out,
    const double[::1] egress,
    const double[::1] lower,
    int prune,
    const int[:, ::1] path,
    double path_egress,
):
    """Run `raptor` once per departure ``deps[k]`` with the phases ``phases[k]``.

    ``out[s, k]`` (out): seconds from departure ``k`` to the arrival at station ``s``
    (inf: not reached within ``limit`` seconds). With ``prune``, only the trip to one
    destination matters: ``egress[s]`` is the walk from station ``s`` to it (inf: none),
    and arrivals that cannot beat the best trip found so far, even at ``lower[s]`` (a
    lower bound of the time from station ``s`` to it), are not kept (their ``out`` may
    be inf or too late). A known ``path`` to it (rows: pattern, boarding
    and alighting positions; none: no rows), timed with each run's own waits plus
    ``path_egress`` and a second, bounds every run from its start (same answer, less work).
    """
    cdef Py_ssize_t n_st = access.shape[0]
    cdef Py_ssize_t n_pat = pat_start.shape[0] - 1
    cdef Py_ssize_t k, s
    cdef double[::1] ready0 = np.empty(n_st)
    cdef double[::1] best = np.empty(n_st)
    cdef double[:, ::1] rec0 = np.empty((1, 1))
    cdef int[:, :, ::1] via0 = np.empty((1, 1, 4), dtype=np.int32)
    cdef double[::1] ready = np.empty(n_st)
    cdef int[::1] ready_round = np.empty(n_st, dtype=np.int32)
    cdef double[::1] arr_k = np.empty(n_st)
    cdef unsigned char[::1] marked = np.empty(n_st, dtype=np.uint8)
    cdef unsigned char[::1] marked_new = np.empty(n_st, dtype=np.uint8)
    cdef long long[::1] first_pos = np.empty(n_pat, dtype=np.int64)
    cdef double cutoff
    for k in range(deps.shape[0]):
        for s in range(n_st):
            ready0[s] = deps[k] + access[s]
        cutoff = deps[k] + limit
        if prune and path.shape[0] > 0:
            cutoff = min(cutoff, _path_arrival(
                ready0[pat_stops[path[0, 1]]], path, pat_stops, pat_secs, win_start, win_end, headway, phases[k],
                transfer, win_start.shape[0],
            ) + path_egress + 1.0)
        _core(
            ready0, pat_start, pat_stops, pat_secs, stop_pat_start, stop_pat, stop_pos, win_start, win_end,
            headway, phases[k], 0, transfer, closed, max_rides, cutoff, best, rec0, via0, 0,
            ready, ready_round, arr_k, marked, marked_new, first_pos, egress, lower, prune,
        )
        for s in range(n_st):
            out[s, k] = best[s] - deps[k]
    return None


def egress_min(
    const double[:, ::1] arrive,
    const long long[::1] indptr,
    const int[::1] nodes,
    const float[::1] secs,
    float[:, ::1] out,
):
    """Lower ``out[node, k]`` to ``arrive[s, k] + secs`` for every station ``s`` and node within its walk.

    ``arrive[s, k]``: the seconds after departure ``k`` at which station ``s`` is reached
    (inf: not reached); station ``s``'s walk reaches ``nodes[indptr[s]:indptr[s+1]]``
    in ``secs`` seconds.
    """
    cdef Py_ssize_t n_st = arrive.shape[0]
    cdef Py_ssize_t n_k = arrive.shape[1]
    cdef Py_ssize_t s, j, k, node
    cdef float w, t
    cdef int reached
    for s in range(n_st):
        reached = 0
        for k in range(n_k):
            if arrive[s, k] < INFINITY:
                reached = 1
                break
        if not reached:
            continue
        for j in range(indptr[s], indptr[s + 1]):
            node = nodes[j]
            w = secs[j]
            for k in range(n_k):
                t = <float>arrive[s, k] + w
                if t < out[node, k]:
                    out[node, k] = t
    return None
