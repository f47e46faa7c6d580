"""Frozen reference: the numba VVCA kernel as it was before issue 13 (benchmarks only, not part of the package).

Kept verbatim so that ``benchmarks/dp.py`` can time the old and the new kernel in one run and check that they
return identical allocations; :func:`installed` routes :mod:`pipeline_lib.vvca.mechanism`'s numba backend through
it (virtual values formed by torch, one argmax table per step, 3n - 4 steps for the revenue).

Original description: compiled CPU version of the VVCA dynamic program (Algorithm 1, Eq. 6) with shared
prefix/suffix tables. Same algorithm, same additions and same tie-break as
:mod:`pipeline_lib.vvca.dp_torch`, so both return identical allocations. The profiles are cut into blocks
of ``block`` columns; each block is solved by one thread (``prange``) in the layout (2^m, block), so that the
innermost loop runs over the profiles of the block with unit stride and vectorises. One bidder step visits every
pair (T, S subset T) once, enumerating S in increasing order with S <- (S - T) & T and keeping the first
maximiser (strict >), i.e. the smallest bitmask S.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numba as nb
import numpy as np
import torch

from pipeline_lib.vvca import mechanism as vvca

DEFAULT_BLOCK = 64


@nb.njit(cache=True)
def _step(prev, v, new, arg):
    """new[T] = max_{S subset T} prev[T ^ S] + v[S]; arg[T] = smallest maximising S. Arrays (2^m, block)."""
    size, width = prev.shape
    for t in range(size):
        for j in range(width):
            new[t, j] = prev[t, j] + v[0, j]
            arg[t, j] = 0
        s = t & (-t)
        while s != 0:
            r = t ^ s
            for j in range(width):
                c = prev[r, j] + v[s, j]
                better = c > new[t, j]
                new[t, j] = c if better else new[t, j]
                arg[t, j] = s if better else arg[t, j]
            s = (s - t) & t


@nb.njit(cache=True)
def _step_shared(prev, lam, new, arg):
    """As :func:`_step` with a value vector lam (2^m,) shared by all profiles (boosts of a zeroed bidder)."""
    size, width = prev.shape
    for t in range(size):
        base = lam[0]
        for j in range(width):
            new[t, j] = prev[t, j] + base
            arg[t, j] = 0
        s = t & (-t)
        while s != 0:
            r = t ^ s
            ls = lam[s]
            for j in range(width):
                c = prev[r, j] + ls
                better = c > new[t, j]
                new[t, j] = c if better else new[t, j]
                arg[t, j] = s if better else arg[t, j]
            s = (s - t) & t


@nb.njit(cache=True)
def _subset_max(table, val, arg):
    """val[X] = max_{T subset X} table[T] with the smallest maximising T in arg (m bit sweeps)."""
    size, width = table.shape
    for x in range(size):
        for j in range(width):
            val[x, j] = table[x, j]
            arg[x, j] = x
    bit = 1
    while bit < size:
        for x in range(size):
            if x & bit:
                y = x ^ bit
                for j in range(width):
                    lo = val[y, j]
                    hi = val[x, j]
                    alo = arg[y, j]
                    ahi = arg[x, j]
                    take = (lo > hi) | ((lo == hi) & (alo < ahi))
                    val[x, j] = lo if take else hi
                    arg[x, j] = alo if take else ahi
        bit <<= 1


@nb.njit(cache=True)
def _argmax_rows(table, other, best, where):
    """best[j] = max_x table[x, j] (+ other[full ^ x, j] when ``other`` has rows) and the smallest maximiser."""
    size, width = table.shape
    full = size - 1
    paired = other.shape[0] == size
    for j in range(width):
        best[j] = table[0, j] + other[full, j] if paired else table[0, j]
        where[j] = 0
    for x in range(1, size):
        for j in range(width):
            c = table[x, j] + other[full ^ x, j] if paired else table[x, j]
            better = c > best[j]
            best[j] = c if better else best[j]
            where[j] = x if better else where[j]


@nb.njit(cache=True)
def _load_block(vt, b0, width, out):
    """out[k, S, j] = vt[b0 + j, k, S] (zero padding past the batch end)."""
    batch, n, size = vt.shape
    live = min(width, batch - b0)
    for k in range(n):
        for s in range(size):
            for j in range(live):
                out[k, s, j] = vt[b0 + j, k, s]
            for j in range(live, width):
                out[k, s, j] = 0.0


@nb.njit(cache=True, parallel=True)
def _winner_determination_kernel(vt, width, maw_out, alloc_out):
    batch, n, size = vt.shape
    nblocks = (batch + width - 1) // width
    for blk in nb.prange(nblocks):
        b0 = blk * width
        v = np.empty((n, size, width), dtype=vt.dtype)
        _load_block(vt, b0, width, v)
        parg = np.zeros((n, size, width), dtype=np.int32)
        prefix = v[0].copy()
        nxt = np.empty_like(prefix)
        for k in range(1, n):
            _step(prefix, v[k], nxt, parg[k])
            prefix, nxt = nxt, prefix
        best = np.empty(width, dtype=vt.dtype)
        where = np.empty(width, dtype=np.int32)
        _argmax_rows(prefix, prefix[:0], best, where)
        for j in range(min(width, batch - b0)):
            u = where[j]
            maw_out[b0 + j] = best[j]
            for k in range(n - 1, 0, -1):
                s = parg[k, u, j]
                alloc_out[b0 + j, k] = s
                u ^= s
            alloc_out[b0 + j, 0] = u


@nb.njit(cache=True, parallel=True)
def _exclusions_kernel(vt, lam, width, maw_out, alloc_out, maw_minus_out, alloc_minus_out):
    batch, n, size = vt.shape
    full = size - 1
    nblocks = (batch + width - 1) // width
    for blk in nb.prange(nblocks):
        b0 = blk * width
        live = min(width, batch - b0)
        v = np.empty((n, size, width), dtype=vt.dtype)
        _load_block(vt, b0, width, v)
        # Suffix tables: Q_{n-1} = vt_{n-1}; Q_k = step(Q_{k+1}, vt_k); closures Qfd_k with argmax.
        sarg = np.zeros((n, size, width), dtype=np.int32)
        fd = np.zeros((n, size, width), dtype=vt.dtype)
        fa = np.zeros((n, size, width), dtype=np.int32)
        suffix = v[n - 1].copy()
        nxt = np.empty_like(suffix)
        if n >= 2:
            _subset_max(suffix, fd[n - 1], fa[n - 1])
        for k in range(n - 2, 0, -1):
            _step(suffix, v[k], nxt, sarg[k])
            suffix, nxt = nxt, suffix
            _subset_max(suffix, fd[k], fa[k])
        # Prefix tables interleaved with the exclusions.
        parg = np.zeros((n, size, width), dtype=np.int32)
        prefix = v[0].copy()
        rtab = np.empty_like(prefix)
        rarg = np.zeros((size, width), dtype=np.int32)
        best = np.empty(width, dtype=vt.dtype)
        where = np.empty(width, dtype=np.int32)
        for i in range(n):
            if i == 0:
                for x in range(size):
                    for j in range(width):
                        rtab[x, j] = lam[0, x]
            else:
                _step_shared(prefix, lam[i], rtab, rarg)
            if i + 1 < n:
                _argmax_rows(rtab, fd[i + 1], best, where)
            else:
                _argmax_rows(rtab, rtab[:0], best, where)
            for j in range(live):
                b = b0 + j
                u = where[j]
                maw_minus_out[b, i] = best[j]
                s_i = u if i == 0 else rarg[u, j]
                alloc_minus_out[b, i, i] = s_i
                rest = u ^ s_i
                if i >= 1:
                    for k in range(i - 1, 0, -1):
                        s = parg[k, rest, j]
                        alloc_minus_out[b, i, k] = s
                        rest ^= s
                    alloc_minus_out[b, i, 0] = rest
                if i + 1 < n:
                    rest = fa[i + 1, full ^ u, j]
                    for k in range(i + 1, n - 1):
                        s = sarg[k, rest, j]
                        alloc_minus_out[b, i, k] = s
                        rest ^= s
                    alloc_minus_out[b, i, n - 1] = rest
            if i >= 1:
                _step(prefix, v[i], nxt, parg[i])
                prefix, nxt = nxt, prefix
        _argmax_rows(prefix, prefix[:0], best, where)
        for j in range(live):
            b = b0 + j
            u = where[j]
            maw_out[b] = best[j]
            for k in range(n - 1, 0, -1):
                s = parg[k, u, j]
                alloc_out[b, k] = s
                u ^= s
            alloc_out[b, 0] = u


def _as_numpy(x: torch.Tensor) -> np.ndarray:
    if x.device.type != "cpu":
        raise ValueError("the numba backend needs CPU tensors")
    return np.ascontiguousarray(x.detach().numpy())


def winner_determination(vt: torch.Tensor, *, block: int = DEFAULT_BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """A* and MAW for virtual values vt (B, n, 2^m) (float32 or float64 CPU tensor)."""
    arr = _as_numpy(vt)
    batch, n, _ = arr.shape
    maw = np.empty(batch, dtype=arr.dtype)
    alloc = np.empty((batch, n), dtype=np.int64)
    if batch:
        _winner_determination_kernel(arr, block, maw, alloc)
    return torch.from_numpy(maw), torch.from_numpy(alloc)


def allocations_with_exclusions(
    vt: torch.Tensor, boosts: torch.Tensor, *, block: int = DEFAULT_BLOCK
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A*, MAW, every A^(-i) and MAW^(-i) (see :func:`dp_torch.allocations_with_exclusions`).

    ``boosts`` must be the (n, 2^m) boosts shared by all profiles.
    """
    arr = _as_numpy(vt)
    lam = _as_numpy(boosts.to(vt.dtype))
    if lam.ndim != 2:
        raise ValueError("the numba backend takes boosts (n, 2^m) shared by all profiles")
    batch, n, _ = arr.shape
    maw = np.empty(batch, dtype=arr.dtype)
    alloc = np.empty((batch, n), dtype=np.int64)
    maw_minus = np.empty((batch, n), dtype=arr.dtype)
    alloc_minus = np.empty((batch, n, n), dtype=np.int64)
    if batch:
        _exclusions_kernel(arr, lam, block, maw, alloc, maw_minus, alloc_minus)
    return (torch.from_numpy(maw), torch.from_numpy(alloc), torch.from_numpy(maw_minus), torch.from_numpy(alloc_minus))


# ------------------------------------------------------------------------------ the old code path of vvca.py
def legacy_exclusions(
    bids: torch.Tensor, params: vvca.VVCAParams
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """evaluate_vvca's numba path before issue 13: vt formed by torch, then the old exclusions kernel."""
    return allocations_with_exclusions(vvca.virtual_values(bids, params), params.boosts)


def legacy_batched(
    bids: torch.Tensor, alphas: torch.Tensor, boosts: torch.Tensor, chunk_size: int | None
) -> torch.Tensor:
    """rev2_batched's numba path before issue 13: the (q B, n, 2^m) virtual values stacked by torch, then the old
    winner-determination kernel in chunks of the old default size."""
    q, batch, n = alphas.shape[0], bids.shape[0], bids.shape[1]
    vt = (alphas.exp()[:, None, :, None] * bids.unsqueeze(0) + boosts[:, None]).reshape(q * batch, *bids.shape[1:])
    m = bids.shape[2].bit_length() - 1
    chunk = chunk_size or vvca.default_chunk_size(n, m, bids.device, exclusions=False, backend="numba")
    parts = [winner_determination(vt[s : s + chunk])[1] for s in range(0, len(vt), chunk)]
    return torch.cat(parts).view(q, batch, n)


@contextmanager
def installed() -> Iterator[None]:
    """Within the block, vvca's numba backend (evaluate_vvca, rev2_batched) runs the old kernel and old path."""
    excl, batched = vvca._excl_backend, vvca._batched_backend
    with (
        mock.patch.object(vvca, "_excl_backend", lambda b: legacy_exclusions if b == "numba" else excl(b)),
        mock.patch.object(vvca, "_batched_backend", lambda b: legacy_batched if b == "numba" else batched(b)),
    ):
        yield
