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

from pipeline_lib.vvca.dp_numba_steps import (  # noqa: F401 - BLOCK and TILE_BITS are part of this module's API
    BLOCK,
    TILE_BITS,
    _argmax_complement,
    _argmax_complement_shared,
    _argmax_rows,
    _backtrack_prefix,
    _backtrack_suffix,
    _closure,
    _closure_vector,
    _count_complement,
    _first_equal,
    _first_sum,
    _first_sum_shared,
    _last_bidder,
    _last_bidder_shared,
    _split,
    _split_shared,
    _step,
    _step_shared,
    _step_tile,
)

DEFAULT_BLOCK = BLOCK  # name kept for callers that size chunks in whole blocks
TILE = 16  # bundles per tile of the block transpose


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
