"""Compiled CPU version of the VVCA dynamic program (Algorithm 1, Eq. 6): value-only sweeps, argmax by recomputation.

Notation as in :mod:`pipeline_lib.vvca.dp_torch` (0-indexed bidders 0..n-1, bundles are bitmasks, M the
full set): vt_k(S) = w_k b_k(S) + lambda_k(S), and one bidder step is

    step(F, g)[T] = max_{S subset T} fl(F[T \\ S] + g[S]),

where fl() is the floating-point sum in the working dtype. The tables are

* prefix P_0 = vt_0, P_k = step(P_{k-1}, vt_k) (exact partitions among bidders 0..k), k <= n - 2;
* suffix Q_{n-1} = vt_{n-1}, Q_k = step(Q_{k+1}, vt_k) (bidders k..n-1), k >= 1, with the free-disposal
  closure Qfd_k[X] = max_{T subset X} Q_k[T];
* exclusion of bidder i (bids zeroed, boosts kept, Eq. 2): R_0 = lambda_0, R_i = step(P_{i-1}, lambda_i),
  MAW^(-i) = max_U fl(R_i[U] + Qfd_{i+1}[M \\ U]).

Last-bidder shortcut. Rounding to nearest is monotone, so fl(a + max_S g[S]) = max_S fl(a + g[S]) and

    max_U step(P_{n-2}, g)[U] = max_R fl(P_{n-2}[R] + gfd[M \\ R]),   gfd[X] = max_{S subset X} g[S],

costs 2^m instead of 3^m per profile. With g = vt_{n-1} this is MAW (the prefix step P_{n-1} is never built);
with g = lambda_{n-1} it is MAW^(-(n-1)) (no step R_{n-1}). The allocation and all n exclusions thus take
3n - 6 bidder steps per profile (n >= 2) instead of the 3n - 4 of a plain prefix/suffix sweep.

Tie-break (shared with :mod:`.dp_torch` and the brute force): every maximum over bundles takes the smallest
maximising bitmask, the argmax over the allocated set U takes the smallest U, and the closure the smallest T.
The sweeps store values only; the argmax is recomputed during the backtrack, for one profile and one T at a time:
the smallest S subset T, enumerated in increasing order, with fl(F[T \\ S] + g[S]) == step(F, g)[T]. The sums are
the same floating-point operations as in the sweep, so this is exactly the first maximiser of the sweep in
increasing order, i.e. the allocation of the reference implementation, bit for bit. For the shortcut, the
allocated set U* = min { R | S : fl(P_{n-2}[R] + g[S]) == max } is found by scanning the R whose closure sum
attains the maximum (one R in general; ties scan R upwards and stop at R >= the best U so far).

Layout: profiles are cut into blocks of :data:`BLOCK` columns (a compile-time constant, so the innermost loop over
a block has a fixed trip count and vectorises without remainder code); each block is solved by one thread
(``prange``) with tables (2^m, BLOCK), the batch innermost. A step is tiled over the low :data:`TILE_BITS` bundle
bits so that the rows a tile reads stay in the L1 cache, and inside a tile it visits the targets t and t | hl
(hl the tile's top bit) together: for s subset t the pairs {t, s}, {t | hl, s} and {t | hl, s | hl} use four rows.
The allocation-only kernel transposes a block of bids once and forms vt for each of the q parameter vectors from
it. Inputs must be finite.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import torch

BLOCK = 128  # profiles per block (compile-time constant of the kernels)
DEFAULT_BLOCK = BLOCK  # name kept for callers that size chunks in whole blocks
TILE = 16  # bundles per tile of the block transpose
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


# ------------------------------------------------------------------------------------------------- blocks
@nb.njit(cache=True)
def _load_block(src, w, lam, qi, fused, b0, out):
    """out[k, S, j] = fl(fl(w[qi, k] src[b0 + j, k, S]) + lam[qi, k, S]) (fused) or src[b0 + j, k, S]; zero
    padding past the batch end. Tiles of TILE bundles keep the transposed writes within a few cache lines."""
    batch, n, size = src.shape
    live = min(BLOCK, batch - b0)
    for k in range(n):
        for s0 in range(0, size, TILE):
            s1 = min(s0 + TILE, size)
            for s in range(s0, s1):
                for j in range(live, BLOCK):
                    out[k, s, j] = 0.0
            if fused:
                wk = w[qi, k]
                for j in range(live):
                    for s in range(s0, s1):
                        out[k, s, j] = wk * src[b0 + j, k, s] + lam[qi, k, s]
            else:
                for j in range(live):
                    for s in range(s0, s1):
                        out[k, s, j] = src[b0 + j, k, s]


@nb.njit(cache=True)
def _prefix_tables(v, pre):
    """pre[0] = vt_0 and pre[k] = step(pre[k-1], vt_k) for k = 1..n-2."""
    n = v.shape[0]
    pre[0, :, :] = v[0]
    for k in range(1, n - 1):
        _step(pre[k - 1], v[k], pre[k])


@nb.njit(cache=True)
def _allocate_block(v, pre, fd, best, where, count, live, row0, maw_out, alloc_out):
    """A* and MAW of the profiles of one block (values in v (n, 2^m, BLOCK)); rows row0 + j of the outputs."""
    n = v.shape[0]
    if n == 1:
        _argmax_rows(v[0], best, where)
        for j in range(live):
            maw_out[row0 + j] = best[j]
            alloc_out[row0 + j, 0] = where[j]
        return
    _closure(v[n - 1], fd)
    _argmax_complement(pre[n - 2], fd, best, where)
    _count_complement(pre[n - 2], fd, best, count)
    for j in range(live):
        u, s = _last_bidder(pre[n - 2], v[n - 1], fd, best, where, count, j)
        maw_out[row0 + j] = best[j]
        alloc_out[row0 + j, n - 1] = s
        _backtrack_prefix(pre, v, n - 2, u ^ s, j, alloc_out[row0 + j])


@nb.njit(cache=True)
def _apply_params(raw, w, lam, qi, out):
    """out[k, S, j] = fl(fl(w[qi, k] raw[k, S, j]) + lam[qi, k, S]) (vt of parameter vector qi)."""
    n, size, _ = raw.shape
    for k in range(n):
        wk = w[qi, k]
        for s in range(size):
            ls = lam[qi, k, s]
            for j in range(BLOCK):
                out[k, s, j] = wk * raw[k, s, j] + ls


@nb.njit(cache=True, parallel=True)
def _allocation_kernel(src, w, lam, fused, groups, maw_out, alloc_out):
    """Allocation only, for q parameter vectors: profile p = qi * B + b uses w[qi], lam[qi] when ``fused``.

    Work unit = (block of profiles, group of parameter vectors qi = g, g + groups, ...): the block is transposed
    once and reused for every qi of the group.
    """
    batch, n, size = src.shape
    q = w.shape[0] if fused else 1
    per_q = (batch + BLOCK - 1) // BLOCK
    for unit in nb.prange(per_q * groups):
        g = unit % groups
        b0 = (unit // groups) * BLOCK
        live = min(BLOCK, batch - b0)
        raw = np.empty((n, size, BLOCK), dtype=src.dtype)
        _load_block(src, w, lam, 0, False, b0, raw)
        v = np.empty((n, size, BLOCK), dtype=src.dtype) if fused else raw
        pre = np.empty((max(n - 1, 1), size, BLOCK), dtype=src.dtype)
        fd = np.empty((size, BLOCK), dtype=src.dtype)
        best = np.empty(BLOCK, dtype=src.dtype)
        where = np.empty(BLOCK, dtype=np.int64)
        count = np.empty(BLOCK, dtype=np.int64)
        for qi in range(g, q, groups):
            if fused:
                _apply_params(raw, w, lam, qi, v)
            if n >= 2:
                _prefix_tables(v, pre)
            _allocate_block(v, pre, fd, best, where, count, live, qi * batch + b0, maw_out, alloc_out)


@nb.njit(cache=True, parallel=True)
def _exclusions_kernel(src, w, lam, fused, maw_out, alloc_out, maw_minus_out, alloc_minus_out):
    """A*, MAW and every A^(-i), MAW^(-i) (see the module docstring); lam (n, 2^m) shared by all profiles."""
    batch, n, size = src.shape
    full = size - 1
    nblocks = (batch + BLOCK - 1) // BLOCK
    w2 = w.reshape(1, n)
    lam3 = lam.reshape(1, n, size)
    for blk in nb.prange(nblocks):
        b0 = blk * BLOCK
        live = min(BLOCK, batch - b0)
        v = np.empty((n, size, BLOCK), dtype=src.dtype)
        _load_block(src, w2, lam3, 0, fused, b0, v)
        best = np.empty(BLOCK, dtype=src.dtype)
        where = np.empty(BLOCK, dtype=np.int64)
        count = np.empty(BLOCK, dtype=np.int64)
        fd = np.empty((size, BLOCK), dtype=src.dtype)
        if n == 1:
            _argmax_rows(v[0], best, where)
            for j in range(live):
                maw_out[b0 + j] = best[j]
                alloc_out[b0 + j, 0] = where[j]
            u = 0
            for x in range(1, size):
                if lam[0, x] > lam[0, u]:
                    u = x
            for j in range(live):
                maw_minus_out[b0 + j, 0] = lam[0, u]
                alloc_minus_out[b0 + j, 0, 0] = u
            continue
        pre = np.empty((n - 1, size, BLOCK), dtype=src.dtype)
        _prefix_tables(v, pre)
        # Suffix tables: suf[k] = Q_k for k = 1..n-1 (suf[0] unused).
        suf = np.empty((n, size, BLOCK), dtype=src.dtype)
        suf[n - 1, :, :] = v[n - 1]
        for k in range(n - 2, 0, -1):
            _step(suf[k + 1], v[k], suf[k])
        # Allocation A* (last-bidder shortcut).
        _allocate_block(v, pre, fd, best, where, count, live, b0, maw_out, alloc_out)
        # Exclusion of bidder 0: MAW^(-0) = max_U fl(lambda_0[U] + Qfd_1[M ^ U]).
        _closure(suf[1], fd)
        _argmax_complement_shared(lam[0], fd, best, where)
        for j in range(live):
            u = where[j]
            out = alloc_minus_out[b0 + j, 0]
            maw_minus_out[b0 + j, 0] = best[j]
            out[0] = u
            _backtrack_suffix(suf, v, 1, full ^ u, j, fd[full ^ u, j], out)
        # Exclusions of bidders 1..n-2: R_i = step(P_{i-1}, lambda_i), MAW^(-i) = max_U fl(R_i[U] + Qfd_{i+1}[M ^ U]).
        rtab = np.empty((size, BLOCK), dtype=src.dtype)
        for i in range(1, n - 1):
            _step_shared(pre[i - 1], lam[i], rtab)
            _closure(suf[i + 1], fd)
            _argmax_complement(rtab, fd, best, where)
            for j in range(live):
                u = where[j]
                out = alloc_minus_out[b0 + j, i]
                maw_minus_out[b0 + j, i] = best[j]
                s = _split_shared(pre[i - 1], lam[i], u, j, rtab[u, j])
                out[i] = s
                _backtrack_prefix(pre, v, i - 1, u ^ s, j, out)
                _backtrack_suffix(suf, v, i + 1, full ^ u, j, fd[full ^ u, j], out)
        # Exclusion of the last bidder: max_R fl(P_{n-2}[R] + lambda_{n-1}fd[M ^ R]) (shortcut, no step).
        lamfd = _closure_vector(lam[n - 1])
        for x in range(size):
            for j in range(BLOCK):
                fd[x, j] = lamfd[x]
        _argmax_complement(pre[n - 2], fd, best, where)
        _count_complement(pre[n - 2], fd, best, count)
        for j in range(live):
            u, s = _last_bidder_shared(pre[n - 2], lam[n - 1], lamfd, best, where, count, j)
            out = alloc_minus_out[b0 + j, n - 1]
            maw_minus_out[b0 + j, n - 1] = best[j]
            out[n - 1] = s
            _backtrack_prefix(pre, v, n - 2, u ^ s, j, out)


# --------------------------------------------------------------------------------------------------- API
def _as_numpy(x: torch.Tensor) -> np.ndarray:
    if x.device.type != "cpu":
        raise ValueError("the numba backend needs CPU tensors")
    return np.ascontiguousarray(x.detach().numpy())


def _groups(q: int, batch: int) -> int:
    """Parameter-vector groups per block of profiles: enough work units for twice the numba threads."""
    blocks = -(-batch // BLOCK)
    return max(1, min(q, -(-2 * nb.get_num_threads() // blocks)))


def winner_determination(vt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A* and MAW = max_A sum_k vt_k(A_k) for virtual values vt (B, n, 2^m) (float32 or float64 CPU tensor)."""
    arr = _as_numpy(vt)
    batch, n, size = arr.shape
    maw = np.empty(batch, dtype=arr.dtype)
    alloc = np.empty((batch, n), dtype=np.int64)
    if batch:
        dummy_w, dummy_lam = np.empty((1, n), dtype=arr.dtype), np.empty((1, n, size), dtype=arr.dtype)
        _allocation_kernel(arr, dummy_w, dummy_lam, False, 1, maw, alloc)
    return torch.from_numpy(maw), torch.from_numpy(alloc)


def winner_determination_batched(
    bids: torch.Tensor, weights: torch.Tensor, boosts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Allocation-only kernel for q parameter vectors on one minibatch (the q + 1 evaluations of Eq. 9).

    The virtual values vt_jk(S) = fl(fl(w_jk b_k(S)) + lambda_jk(S)) are formed inside the kernel, with the same
    two roundings as ``weights[:, None, :, None] * bids + boosts[:, None]`` in torch, and never stored.

    Args:
        bids: (B, n, 2^m); weights: w = exp(alpha), (q, n); boosts: (q, n, 2^m). One dtype, CPU.

    Returns:
        maw (q, B) and alloc (q, B, n): A* of profile b under parameter vector j.
    """
    arr = _as_numpy(bids)
    w = _as_numpy(weights.to(bids.dtype))
    lam = _as_numpy(boosts.to(bids.dtype))
    batch, n, size = arr.shape
    q = w.shape[0]
    if w.shape != (q, n) or lam.shape != (q, n, size):
        raise ValueError(f"weights (q, n) and boosts (q, n, 2^m) expected, got {w.shape}, {lam.shape}")
    maw = np.empty(q * batch, dtype=arr.dtype)
    alloc = np.empty((q * batch, n), dtype=np.int64)
    if batch and q:
        _allocation_kernel(arr, w, lam, True, _groups(q, batch), maw, alloc)
    return torch.from_numpy(maw).view(q, batch), torch.from_numpy(alloc).view(q, batch, n)


def _exclusions(
    src: np.ndarray, w: np.ndarray, lam: np.ndarray, fused: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    batch, n, _ = src.shape
    if lam.ndim != 2:
        raise ValueError("the numba backend takes boosts (n, 2^m) shared by all profiles")
    maw = np.empty(batch, dtype=src.dtype)
    alloc = np.empty((batch, n), dtype=np.int64)
    maw_minus = np.empty((batch, n), dtype=src.dtype)
    alloc_minus = np.empty((batch, n, n), dtype=np.int64)
    if batch:
        _exclusions_kernel(src, w, lam, fused, maw, alloc, maw_minus, alloc_minus)
    return (torch.from_numpy(maw), torch.from_numpy(alloc), torch.from_numpy(maw_minus), torch.from_numpy(alloc_minus))


def allocations_with_exclusions(
    vt: torch.Tensor, boosts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A*, MAW, every A^(-i) and MAW^(-i) (see :func:`dp_torch.allocations_with_exclusions`).

    ``boosts`` must be the (n, 2^m) boosts shared by all profiles.
    """
    arr = _as_numpy(vt)
    lam = _as_numpy(boosts.to(vt.dtype))
    return _exclusions(arr, np.ones(arr.shape[1], dtype=arr.dtype), lam, False)


def allocations_with_exclusions_from_bids(
    bids: torch.Tensor, weights: torch.Tensor, boosts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """As :func:`allocations_with_exclusions` for vt = fl(fl(w_k b_k(S)) + lambda_k(S)) formed in the kernel.

    Bit-identical to passing ``weights[:, None] * bids + boosts`` computed by torch (two roundings, no FMA).
    bids (B, n, 2^m), weights (n,), boosts (n, 2^m).
    """
    arr = _as_numpy(bids)
    w = _as_numpy(weights.to(bids.dtype))
    lam = _as_numpy(boosts.to(bids.dtype))
    return _exclusions(arr, w, lam, True)
