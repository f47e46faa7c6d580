"""Bitmask bookkeeping for the VVCA dynamic program (Algorithm 1 of the ZFO-VVCA paper).

Bundles are bitmasks ``0 .. 2^m - 1`` (bit j set = item j in the bundle). One bidder step of the DP (Eq. 6)

    new[T] = max_{S subset of T} old[T \\ S] + v[S]

visits every pair (T, S subset of T): sum_T 2^|T| = 3^m pairs. For the dense torch version the pairs are
grouped by the size c = |T|: the C(m, c) bundles of size c give a dense block of shape (C(m, c), 2^c) whose
row for T lists the subsets S of T in increasing integer order. Increasing order matters: the DP breaks ties
in favour of the first maximiser, i.e. the smallest bitmask S, in every implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch


def popcount(masks: np.ndarray) -> np.ndarray:
    """Number of set bits of every entry of an integer array."""
    masks = np.asarray(masks, dtype=np.int64)
    out = np.zeros_like(masks)
    work = masks.copy()
    while np.any(work):
        out += work & 1
        work >>= 1
    return out


def submasks_ascending(t: int) -> np.ndarray:
    """All subsets S of the bitmask ``t`` in increasing integer order.

    Subset number r of a bundle with set bits p_0 < ... < p_{c-1} is sum_j bit_j(r) << p_j; this "bit
    deposit" is monotone in r, so r = 0 .. 2^c - 1 lists the subsets in increasing order.
    """
    bits = [j for j in range(t.bit_length()) if (t >> j) & 1]
    r = np.arange(2 ** len(bits), dtype=np.int64)
    out = np.zeros_like(r)
    for pos, bit in enumerate(bits):
        out |= ((r >> pos) & 1) << bit
    return out


@dataclass(frozen=True)
class PairBlock:
    """(T, S subset of T) pairs of a group of bundle sizes: ``targets`` (C,), ``subs`` (C, K), ``rests`` = T xor S.

    Row r lists the subsets of targets[r] in increasing order; rows of bundles smaller than the group's largest
    are padded up to K with repeats of their last subset S = T. A repeat equals an earlier candidate, so the
    first maximiser (the tie-break) never lands on the padding.
    """

    targets: torch.Tensor
    subs: torch.Tensor
    rests: torch.Tensor


def size_groups(m: int, max_padding: float = 1.0) -> list[tuple[int, int]]:
    """Consecutive bundle sizes [c0, c1] merged into one dense block while the padded block (rows x 2^c1) stays
    within ``max_padding`` times the real number of pairs; 1.0 keeps one block per size.

    Fewer blocks mean fewer kernel launches per DP step (what limits a GPU at small batches), at the price of
    up to ``max_padding`` times the work.
    """
    groups = []
    c = 0
    while c <= m:
        rows, real, top = math.comb(m, c), math.comb(m, c) << c, c
        while top < m:
            rows2 = rows + math.comb(m, top + 1)
            real2 = real + (math.comb(m, top + 1) << (top + 1))
            if (rows2 << (top + 1)) > max_padding * real2:
                break
            rows, real, top = rows2, real2, top + 1
        groups.append((c, top))
        c = top + 1
    return groups


@lru_cache(maxsize=64)
def _pair_blocks_numpy(m: int, max_padding: float) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    sizes = popcount(np.arange(2**m))
    blocks = []
    for lo, hi in size_groups(m, max_padding):
        targets = np.concatenate([np.flatnonzero(sizes == c) for c in range(lo, hi + 1)]).astype(np.int64)
        width = 1 << hi
        subs = np.empty((len(targets), width), dtype=np.int64)
        for row, t in enumerate(targets):
            own = submasks_ascending(int(t))
            subs[row, : len(own)] = own
            subs[row, len(own) :] = own[-1]
        rests = targets[:, None] ^ subs
        blocks.append((targets, subs, rests))
    return tuple(blocks)


_BLOCK_CACHE: dict[tuple[int, str, float], tuple[PairBlock, ...]] = {}


def pair_blocks(m: int, device: torch.device | str = "cpu", max_padding: float = 1.0) -> tuple[PairBlock, ...]:
    """Dense (T, S) index blocks grouped by bundle size (see :func:`size_groups`), int64 on ``device`` (cached)."""
    device = torch.device(device)
    key = (m, str(device), float(max_padding))
    if key not in _BLOCK_CACHE:
        _BLOCK_CACHE[key] = tuple(
            PairBlock(
                targets=torch.as_tensor(t, device=device),
                subs=torch.as_tensor(s, device=device),
                rests=torch.as_tensor(r, device=device),
            )
            for t, s, r in _pair_blocks_numpy(m, float(max_padding))
        )
    return _BLOCK_CACHE[key]
