"""Per-block building blocks of the compiled VVCA dynamic program (:mod:`pipeline_lib.vvca.dp_numba`): the bidder
steps over a block of profiles (value-only sweeps, tiled for the L1 cache), the free-disposal closure and the
argmax scans, and the one-profile backtracking that recomputes the argmax with the same floating-point sums as the
sweep (so the allocation is the reference implementation's first maximiser, bit for bit). The module docstring of
:mod:`pipeline_lib.vvca.dp_numba` states the recursion, the tie-break and the layout.
"""

from __future__ import annotations

import numba as nb

BLOCK = 128  # profiles per block (compile-time constant of the kernels)
TILE_BITS = 3  # low bundle bits of the cache tiles of a bidder step


# --------------------------------------------------------------------------------------------- sweeps (vector)
@nb.njit(cache=True)
def _step_tile(prev, v, new, rb, sb, tb, lo, init):
    """The pairs (tb + t, sb + s) for s subset t < lo of one tile: new[tb + t] (max)= fl(prev[rb + (t ^ s)] +
    v[sb + s]), with the targets t and t | hl (hl = lo / 2) visited together; ``init`` assigns instead."""
    hl = lo >> 1
    for t in range(hl):
        th = t | hl
        if init:
            for j in range(BLOCK):
                p0 = prev[rb + t, j]
                v0 = v[sb, j]
                new[tb + t, j] = p0 + v0
                a = prev[rb + th, j] + v0
                c = p0 + v[sb + hl, j]
                new[tb + th, j] = c if c > a else a
        else:
            for j in range(BLOCK):
                p0 = prev[rb + t, j]
                v0 = v[sb, j]
                c = p0 + v0
                x = new[tb + t, j]
                new[tb + t, j] = c if c > x else x
                c1 = prev[rb + th, j] + v0
                c2 = p0 + v[sb + hl, j]
                y = new[tb + th, j]
                y = c1 if c1 > y else y
                new[tb + th, j] = c2 if c2 > y else y
        s = t & (-t)
        while s != 0:
            r = rb + (t ^ s)
            ss = sb + s
            for j in range(BLOCK):
                p0 = prev[r, j]
                vs = v[ss, j]
                c = p0 + vs
                x = new[tb + t, j]
                new[tb + t, j] = c if c > x else x
                c1 = prev[r + hl, j] + vs
                c2 = p0 + v[ss + hl, j]
                y = new[tb + th, j]
                y = c1 if c1 > y else y
                new[tb + th, j] = c2 if c2 > y else y
            s = (s - t) & t


@nb.njit(cache=True)
def _step(prev, v, new):
    """new[T] = max_{S subset T} fl(prev[T ^ S] + v[S]) for tables (2^m, BLOCK).

    Cache tiling: T = T_hi + T_lo, S = S_hi + S_lo with the low TILE_BITS bits in the tile; for each T_hi and each
    S_hi subset T_hi, the 3^TILE_BITS pairs of the low bits read 2^TILE_BITS consecutive rows of prev and of v
    and update 2^TILE_BITS consecutive rows of new, which stay in the L1 cache.
    """
    size = prev.shape[0]
    if size == 1:
        for j in range(BLOCK):
            new[0, j] = prev[0, j] + v[0, j]
        return
    lo = min(size, 1 << TILE_BITS)
    for th in range(0, size, lo):
        _step_tile(prev, v, new, th, 0, th, lo, True)
        s = th & (-th)
        while s != 0:
            _step_tile(prev, v, new, th ^ s, s, th, lo, False)
            s = (s - th) & th


@nb.njit(cache=True)
def _step_shared(prev, lam, new):
    """As :func:`_step` with a value vector lam (2^m,) shared by all profiles (the boosts of a zeroed bidder)."""
    size = prev.shape[0]
    if size == 1:
        for j in range(BLOCK):
            new[0, j] = prev[0, j] + lam[0]
        return
    h = size >> 1
    lh = lam[h]
    l0 = lam[0]
    for t in range(h):
        th = t | h
        for j in range(BLOCK):
            p0 = prev[t, j]
            new[t, j] = p0 + l0
            a = prev[th, j] + l0
            c = p0 + lh
            new[th, j] = c if c > a else a
        s = t & (-t)
        while s != 0:
            r = t ^ s
            rh = r | h
            ls = lam[s]
            lsh = lam[s | h]
            for j in range(BLOCK):
                p0 = prev[r, j]
                c = p0 + ls
                x = new[t, j]
                new[t, j] = c if c > x else x
                c1 = prev[rh, j] + ls
                c2 = p0 + lsh
                y = new[th, j]
                y = c1 if c1 > y else y
                new[th, j] = c2 if c2 > y else y
            s = (s - t) & t


@nb.njit(cache=True)
def _closure(table, out):
    """out[X] = max_{T subset X} table[T] (free-disposal closure, values only; m bit sweeps)."""
    size = table.shape[0]
    for x in range(size):
        for j in range(BLOCK):
            out[x, j] = table[x, j]
    bit = 1
    while bit < size:
        for base in range(0, size, 2 * bit):
            for y in range(base, base + bit):
                x = y + bit
                for j in range(BLOCK):
                    lo = out[y, j]
                    hi = out[x, j]
                    out[x, j] = lo if lo > hi else hi
        bit <<= 1


@nb.njit(cache=True)
def _closure_vector(vec):
    """The closure of :func:`_closure` for one vector (2^m,)."""
    out = vec.copy()
    size = out.shape[0]
    bit = 1
    while bit < size:
        for x in range(size):
            if x & bit and out[x ^ bit] > out[x]:
                out[x] = out[x ^ bit]
        bit <<= 1
    return out


@nb.njit(cache=True)
def _argmax_complement(table, other, best, where):
    """best[j] = max_U fl(table[U, j] + other[M ^ U, j]) and where[j] = the smallest maximising U."""
    size = table.shape[0]
    full = size - 1
    for j in range(BLOCK):
        best[j] = table[0, j] + other[full, j]
        where[j] = 0
    for x in range(1, size):
        for j in range(BLOCK):
            c = table[x, j] + other[full ^ x, j]
            better = c > best[j]
            best[j] = c if better else best[j]
            where[j] = x if better else where[j]


@nb.njit(cache=True)
def _argmax_complement_shared(lam, other, best, where):
    """As :func:`_argmax_complement` with a first term lam[U] shared by all profiles."""
    size = other.shape[0]
    full = size - 1
    for j in range(BLOCK):
        best[j] = lam[0] + other[full, j]
        where[j] = 0
    for x in range(1, size):
        lx = lam[x]
        for j in range(BLOCK):
            c = lx + other[full ^ x, j]
            better = c > best[j]
            best[j] = c if better else best[j]
            where[j] = x if better else where[j]


@nb.njit(cache=True)
def _argmax_rows(table, best, where):
    """best[j] = max_U table[U, j] and where[j] = the smallest maximising U."""
    size = table.shape[0]
    for j in range(BLOCK):
        best[j] = table[0, j]
        where[j] = 0
    for x in range(1, size):
        for j in range(BLOCK):
            c = table[x, j]
            better = c > best[j]
            best[j] = c if better else best[j]
            where[j] = x if better else where[j]


@nb.njit(cache=True)
def _count_complement(table, other, best, count):
    """count[j] = #{U : fl(table[U, j] + other[M ^ U, j]) == best[j]} (1 unless the optimum is tied)."""
    size = table.shape[0]
    full = size - 1
    for j in range(BLOCK):
        count[j] = 0
    for x in range(size):
        for j in range(BLOCK):
            count[j] += table[x, j] + other[full ^ x, j] == best[j]


# ---------------------------------------------------------------------------------- backtracking (one profile)
@nb.njit(cache=True)
def _split(prev, v, t, j, target):
    """Smallest S subset t with fl(prev[t ^ S, j] + v[S, j]) == target (the argmax of one step at t)."""
    s = 0
    while True:
        if prev[t ^ s, j] + v[s, j] == target:
            return s
        s = (s - t) & t
        if s == 0:
            return 0  # unreachable for finite inputs: target is one of these sums


@nb.njit(cache=True)
def _split_shared(prev, lam, t, j, target):
    """Smallest S subset t with fl(prev[t ^ S, j] + lam[S]) == target."""
    s = 0
    while True:
        if prev[t ^ s, j] + lam[s] == target:
            return s
        s = (s - t) & t
        if s == 0:
            return 0


@nb.njit(cache=True)
def _first_sum(a, v, x, j, target):
    """Smallest S subset x with fl(a + v[S, j]) == target."""
    s = 0
    while True:
        if a + v[s, j] == target:
            return s
        s = (s - x) & x
        if s == 0:
            return 0


@nb.njit(cache=True)
def _first_sum_shared(a, lam, x, target):
    """Smallest S subset x with fl(a + lam[S]) == target."""
    s = 0
    while True:
        if a + lam[s] == target:
            return s
        s = (s - x) & x
        if s == 0:
            return 0


@nb.njit(cache=True)
def _first_equal(table, x, j, target):
    """Smallest T subset x with table[T, j] == target (the argmax of the closure at x)."""
    s = 0
    while True:
        if table[s, j] == target:
            return s
        s = (s - x) & x
        if s == 0:
            return 0


@nb.njit(cache=True)
def _backtrack_prefix(pre, v, last, rest, j, out):
    """out[k] for k = last..0 from the prefix tables: P_k[rest] = fl(P_{k-1}[rest ^ S] + vt_k[S]), smallest S."""
    for k in range(last, 0, -1):
        s = _split(pre[k - 1], v[k], rest, j, pre[k, rest, j])
        out[k] = s
        rest ^= s
    out[0] = rest


@nb.njit(cache=True)
def _backtrack_suffix(suf, v, first, x, j, target, out):
    """out[k] for k = first..n-1: T = argmax of Qfd_first at x (value ``target``), then Q_k[T] = fl(Q_{k+1}[T ^ S]
    + vt_k[S]) with the smallest S."""
    n = v.shape[0]
    t = _first_equal(suf[first], x, j, target)
    for k in range(first, n - 1):
        s = _split(suf[k + 1], v[k], t, j, suf[k, t, j])
        out[k] = s
        t ^= s
    out[n - 1] = t


@nb.njit(cache=True)
def _last_bidder(pre, last, lastfd, best, first, count, j):
    """Allocated set U* and the last bidder's bundle for the shortcut max_R fl(P[R] + gfd[M ^ R]) (per profile g).

    U* = the smallest R | S over fl(P[R] + g[S]) == best; the last bundle is the smallest such S within U*.
    """
    size = pre.shape[0]
    full = size - 1
    target = best[j]
    r = first[j]
    u = r | _first_sum(pre[r, j], last, full ^ r, j, target)
    if count[j] == 1:
        return u, u ^ r
    for r in range(first[j] + 1, size):
        if r >= u:
            break
        a = pre[r, j]
        if a + lastfd[full ^ r, j] == target:
            u = min(u, r | _first_sum(a, last, full ^ r, j, target))
    return u, _split(pre, last, u, j, target)


@nb.njit(cache=True)
def _last_bidder_shared(pre, lam, lamfd, best, first, count, j):
    """:func:`_last_bidder` with the boost vector lam (2^m,) of a zeroed last bidder."""
    size = pre.shape[0]
    full = size - 1
    target = best[j]
    r = first[j]
    u = r | _first_sum_shared(pre[r, j], lam, full ^ r, target)
    if count[j] == 1:
        return u, u ^ r
    for r in range(first[j] + 1, size):
        if r >= u:
            break
        a = pre[r, j]
        if a + lamfd[full ^ r] == target:
            u = min(u, r | _first_sum_shared(a, lam, full ^ r, target))
    return u, _split_shared(pre, lam, u, j, target)
