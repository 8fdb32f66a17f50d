"""Compiled (numba) CPU kernels for point-cloud distances.

- :func:`chamfer_block`: Chamfer distances and Chamfer-derived EMD lower bounds for a list
  of cloud pairs, one fused pass per pair (no ``N x M`` matrix in memory), pairs in
  parallel threads.
- :func:`auction_block`: Bertsekas' auction algorithm with eps-scaling for the EMD
  assignment of many cloud pairs (in parallel threads).
  It returns a certified interval: the mean cost of the assignment it found (an upper
  bound) and the value of a feasible dual (a lower bound). Their gap is at most ``eps`` in
  mean cost, so a small ``eps`` gives the exact EMD to that precision, with proof.

Speed trick used throughout: for non-negative IEEE floats the bit patterns order like
integers, and LLVM vectorises integer ``min`` (not float ``min`` under numba), so minima of
non-negative values are taken on an integer view of the same memory.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_INF32 = np.int32(0x7F800000)  # bit pattern of float32 +inf
_INF64 = np.int64(0x7FF0000000000000)  # bit pattern of float64 +inf


@numba.njit(parallel=True, cache=True)
def chamfer_block(clouds_a, clouds_b, pairs):
    """``[P, 3]``: for each pair ``(i, j)`` of ``pairs [P, 2]`` (``i`` into
    ``clouds_a [S1, N, 3]``, ``j`` into ``clouds_b [S2, M, 3]``, float32):
    ``[cd, mean_a min_b |a-b|, mean_b min_a |a-b|]``.

    ``cd`` is PointFlow's (squared distances, mean each way, summed). Distances are
    float32 (relative error ~1e-7), sums float64.
    """
    out = np.empty((len(pairs), 3))
    n, m = clouds_a.shape[1], clouds_b.shape[1]
    for p in numba.prange(len(pairs)):
        a, b = clouds_a[pairs[p, 0]], clouds_b[pairs[p, 1]]
        bx, by, bz = b[:, 0].copy(), b[:, 1].copy(), b[:, 2].copy()
        row = np.empty(m, np.float32)
        row_bits = row.view(np.int32)
        col_bits = np.full(m, _INF32, np.int32)
        best_bits = np.empty(n, np.int32)
        for i in range(n):
            ax, ay, az = a[i, 0], a[i, 1], a[i, 2]
            for j in range(m):
                dx, dy, dz = ax - bx[j], ay - by[j], az - bz[j]
                row[j] = dx * dx + dy * dy + dz * dz
            best = _INF32
            for j in range(m):
                v = row_bits[j]
                best = v if v < best else best
                c = col_bits[j]
                col_bits[j] = v if v < c else c
            best_bits[i] = best
        row_min, col_min = best_bits.view(np.float32), col_bits.view(np.float32)
        sq_a = sq_b = d_a = d_b = 0.0
        for i in range(n):
            sq_a += row_min[i]
            d_a += math.sqrt(row_min[i])
        for j in range(m):
            sq_b += col_min[j]
            d_b += math.sqrt(col_min[j])
        out[p, 0] = sq_a / n + sq_b / m
        out[p, 1] = d_a / n
        out[p, 2] = d_b / m
    return out


@numba.njit(cache=True)
def cost_matrix(a, b):
    """``[N, N]`` Euclidean distances of equal-size clouds, by direct differences in float64
    (no matmul identity, so no cancellation for close points), whatever the input dtype."""
    n = len(a)
    cost = np.empty((n, n))
    bx, by, bz = b[:, 0].astype(np.float64), b[:, 1].astype(np.float64), b[:, 2].astype(np.float64)
    for i in range(n):
        ax, ay, az = np.float64(a[i, 0]), np.float64(a[i, 1]), np.float64(a[i, 2])
        for j in range(n):
            dx, dy, dz = ax - bx[j], ay - by[j], az - bz[j]
            cost[i, j] = math.sqrt(dx * dx + dy * dy + dz * dz)
    return cost


@numba.njit(cache=True)
def _row_min(row, prices, tmp, tmp_bits):
    """Smallest ``row + prices`` (all >= 0): ``(bits, index)`` via vectorised int mins."""
    n = len(row)
    for j in range(n):
        tmp[j] = row[j] + prices[j]
    best = _INF64
    for j in range(n):
        v = tmp_bits[j]
        best = v if v < best else best
    j1 = 0
    while tmp_bits[j1] != best:
        j1 += 1
    return best, j1


@numba.njit(cache=True)
def _auction_cost(cost, eps_final, prices):
    """Forward auction (Gauss-Seidel) with eps-scaling on ``cost [N, N]`` (>= 0).

    Minimises ``sum_i cost[i, assigned[i]]``; ``prices`` (>= 0, updated in place) are
    the objects' prices. Each phase ends with every person assigned and eps-complementary
    slackness, so the assignment is within ``N * eps`` of optimal in total cost.
    """
    n = cost.shape[0]
    if n == 1:
        return np.zeros(1, np.int64)
    eps = max(cost.max() / 8.0, eps_final)
    owner = np.empty(n, np.int64)
    assigned = np.empty(n, np.int64)
    queue = np.empty(n, np.int64)
    tmp = np.empty(n)
    tmp_bits = tmp.view(np.int64)
    while True:
        owner[:] = -1
        assigned[:] = -1
        for i in range(n):
            queue[i] = n - 1 - i
        top = n
        while top > 0:
            top -= 1
            i = queue[top]
            w1_bits, j1 = _row_min(cost[i], prices, tmp, tmp_bits)
            w1 = tmp[j1]
            # second best: the smallest of the other entries
            w2_bits = _INF64
            for j in range(j1):
                v = tmp_bits[j]
                w2_bits = v if v < w2_bits else w2_bits
            for j in range(j1 + 1, n):
                v = tmp_bits[j]
                w2_bits = v if v < w2_bits else w2_bits
            tmp_bits[0] = w2_bits
            w2 = tmp[0]
            prices[j1] += w2 - w1 + eps
            k = owner[j1]
            if k >= 0:
                assigned[k] = -1
                queue[top] = k
                top += 1
            owner[j1] = i
            assigned[i] = j1
        if eps <= eps_final:
            return assigned
        eps = max(eps / 6.0, eps_final)


@numba.njit(cache=True)
def _dual_value(cost, prices):
    """Mean of the feasible dual ``u_i = min_j (c_ij + p_j)``, ``v_j = -p_j``: <= EMD."""
    n = cost.shape[0]
    tmp = np.empty(n)
    tmp_bits = tmp.view(np.int64)
    total = 0.0
    for i in range(n):
        _, j = _row_min(cost[i], prices, tmp, tmp_bits)
        total += tmp[j]
    return (total - prices.sum()) / n


@numba.njit(parallel=True, cache=True)
def auction_block(clouds, pairs, rel_eps):
    """``[P, 2]`` (lower, upper) EMD bounds for index pairs of ``clouds [S, N, 3]``.

    ``eps`` per pair is ``rel_eps`` times the mean nearest-neighbour distance of ``a`` to
    ``b`` (a scale below the EMD), so the interval is relative to the EMD's own size; for
    (near-)identical clouds it is floored at ``1e-6`` of the mean point distance.
    """
    out = np.empty((len(pairs), 2))
    for p in numba.prange(len(pairs)):
        a, b = clouds[pairs[p, 0]], clouds[pairs[p, 1]]
        cost = cost_matrix(a, b)
        near = 0.0
        for i in range(len(a)):
            near += cost[i].min()
        # floor: identical clouds (EMD 0) must not run eps down to underflow
        eps = rel_eps * max(near / len(a), 1e-6 * cost.mean())
        prices = np.zeros(len(a))
        assigned = _auction_cost(cost, eps, prices)
        upper = 0.0
        for i in range(len(a)):
            upper += cost[i, assigned[i]]
        out[p, 0] = _dual_value(cost, prices)
        out[p, 1] = upper / len(a)
    return out
