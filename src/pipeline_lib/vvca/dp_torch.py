"""Dense torch version of the VVCA dynamic program (Algorithm 1, Eq. 6) with shared prefix/suffix tables.

Notation (docs/methods.md#winner-determination). The virtual bundle value of bidder k is
vt_k(S) = w_k b_k(S) + lambda_k(S), and vt_k(empty) = lambda_k(empty). All tables have the layout (2^m, B),
the batch innermost: a gather of bundle rows then reads contiguous (CPU) or coalesced (GPU) memory.

* Prefix, exact partitions among bidders 1..k (Eq. 6 with MAW[1] = vt_1):
  P_1 = vt_1,  P_k[T] = max_{S subset T} P_{k-1}[T \\ S] + vt_k[S],  argP_k[T] = the maximising S.
  The allocation A* (Eq. 1) is read off U* = argmax_U P_n[U] by backtracking, and MAW = P_n[U*].
* Suffix, exact partitions among bidders k..n: Q_n = vt_n, Q_k[T] = max_S Q_{k+1}[T \\ S] + vt_k[S], and its
  free-disposal closure Qfd_k[X] = max_{T subset X} Q_k[T] (items of X \\ T go to nobody).
* Exclusion of bidder i (Eq. 2: bidder i's bids zeroed, its boosts lambda_i kept):
  R_i = lambda_i if i = 1, else R_i[U] = max_S P_{i-1}[U \\ S] + lambda_i[S];
  MAW^(-i) = max_U R_i[U] + Qfd_{i+1}[M \\ U]   (with Qfd_{n+1} = 0).

So the allocation and all n exclusions cost (n - 1) + (n - 2) + (n - 1) = 3n - 4 bidder steps instead of the
(n + 1)(n - 1) of n + 1 independent dynamic programs.

Tie-break (deterministic, shared with :mod:`pipeline_lib.vvca.dp_numba`): every maximum over bundles
takes the smallest maximising bitmask; the free-disposal closure takes the smallest maximising T. Both
versions perform the same floating-point additions in the same order, so they return identical allocations.
"""

from __future__ import annotations

import torch

from .subsets import PairBlock, pair_blocks

# Bundle sizes merged into padded blocks on a GPU (fewer kernel launches per step, up to 2x the pairs); the CPU
# keeps one exact block per size. See :func:`pipeline_lib.vvca.subsets.size_groups`.
CUDA_MAX_PADDING = 2.0


def _blocks(m: int, device: torch.device, max_padding: float | None) -> tuple[PairBlock, ...]:
    if max_padding is None:
        max_padding = CUDA_MAX_PADDING if device.type == "cuda" else 1.0
    return pair_blocks(m, device, max_padding)


def bidder_step(
    prev: torch.Tensor, v: torch.Tensor, blocks: tuple[PairBlock, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of Eq. 6: new[T] = max_{S subset T} prev[T \\ S] + v[S] and the smallest maximising S.

    ``prev`` is (2^m, B); ``v`` is (2^m, B) or (2^m, 1) (a boost vector shared by all profiles).
    """
    size, batch = prev.shape
    new = torch.empty((size, batch), dtype=prev.dtype, device=prev.device)
    arg = torch.empty((size, batch), dtype=torch.long, device=prev.device)
    for blk in blocks:
        cand = prev[blk.rests] + v[blk.subs]  # (C, K, B); summation order prev + v as in numba
        val, pos = cand.max(dim=1)  # first maximiser = smallest S (subs ascending, padding last)
        new[blk.targets] = val
        arg[blk.targets] = blk.subs.gather(1, pos)
    return new, arg


def subset_max(table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Free-disposal closure G[X] = max_{T subset X} F[T] and the smallest maximising T, in m bit sweeps.

    The winner of each comparison is the lexicographic maximum of (value, -T): a total order, so the tournament
    over bits returns the largest value and, among ties, the smallest bitmask T.
    """
    size, batch = table.shape
    m = size.bit_length() - 1
    val = table.clone()
    arg = torch.arange(size, device=table.device)[:, None].expand(size, batch).clone()
    for j in range(m):
        v4 = val.view(size >> (j + 1), 2, 1 << j, batch)
        a4 = arg.view(size >> (j + 1), 2, 1 << j, batch)
        lo, hi = v4[:, 0], v4[:, 1]
        alo, ahi = a4[:, 0], a4[:, 1]
        take_lo = (lo > hi) | ((lo == hi) & (alo < ahi))
        v4[:, 1] = torch.where(take_lo, lo, hi)
        a4[:, 1] = torch.where(take_lo, alo, ahi)
    return val, arg


def _gather_rows(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """table[idx[b], b] for every profile b: (2^m, B) x (B,) -> (B,)."""
    return table.gather(0, idx.unsqueeze(0)).squeeze(0)


def _backtrack_prefix(args: list[torch.Tensor | None], last: int, rest: torch.Tensor, out: torch.Tensor) -> None:
    """Fill out[:, k] for bidders k = last..0 (0-indexed) from the prefix argmax tables, starting at ``rest``.

    ``args[k]`` is argP for bidder k (None for k = 0, where P_1 = vt_1 gives bidder 0 the whole remainder).
    """
    for k in range(last, 0, -1):
        s = _gather_rows(args[k], rest)
        out[:, k] = s
        rest = rest ^ s
    if last >= 0:
        out[:, 0] = rest


def _batch_last(x: torch.Tensor) -> torch.Tensor:
    """(B, n, 2^m) -> (n, 2^m, B), contiguous."""
    return x.permute(1, 2, 0).contiguous()


def winner_determination(vt: torch.Tensor, *, max_padding: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact argmax of Eq. 1 under the VVCA decomposition (Eq. 3): returns (MAW (B,), A* (B, n) bundle masks)."""
    batch, n, size = vt.shape
    blocks = _blocks(size.bit_length() - 1, vt.device, max_padding)
    v = _batch_last(vt)
    args: list[torch.Tensor | None] = [None] * n
    table = v[0]
    for k in range(1, n):
        table, args[k] = bidder_step(table, v[k], blocks)
    maw, u_star = table.max(dim=0)
    alloc = torch.empty((batch, n), dtype=torch.long, device=vt.device)
    _backtrack_prefix(args, n - 1, u_star, alloc)
    return maw, alloc


def allocations_with_exclusions(
    vt: torch.Tensor, boosts: torch.Tensor, *, max_padding: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A* and every A^(-i) of Eq. 2 from shared prefix/suffix tables.

    Args:
        vt: virtual values (B, n, 2^m).
        boosts: lambda, (n, 2^m) shared by all profiles or (B, n, 2^m).
        max_padding: merge bundle sizes into padded blocks (None: 2.0 on a GPU, 1.0 on the CPU).

    Returns:
        maw (B,), alloc (B, n), maw_minus (B, n) with maw_minus[:, i] = MAW^(-i), and alloc_minus (B, n, n)
        with alloc_minus[:, i, k] = bundle of bidder k in A^(-i).
    """
    batch, n, size = vt.shape
    full = size - 1
    device = vt.device
    blocks = _blocks(size.bit_length() - 1, device, max_padding)
    v = _batch_last(vt)
    lam = boosts.unsqueeze(2) if boosts.dim() == 2 else _batch_last(boosts)  # (n, 2^m, 1 or B)

    # Suffix tables Q_k (k = n-1 .. 1, 0-indexed; Q_{n-1} = vt_{n-1}) and their free-disposal closures.
    sarg: list[torch.Tensor | None] = [None] * n
    sfd: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * (n + 1)
    table = v[n - 1]
    if n >= 2:
        sfd[n - 1] = subset_max(table)
    for k in range(n - 2, 0, -1):
        table, sarg[k] = bidder_step(table, v[k], blocks)
        sfd[k] = subset_max(table)

    alloc = torch.empty((batch, n), dtype=torch.long, device=device)
    alloc_minus = torch.empty((batch, n, n), dtype=torch.long, device=device)
    maw_minus = torch.empty((batch, n), dtype=vt.dtype, device=device)
    pargs: list[torch.Tensor | None] = [None] * n
    prefix = None  # P_{i-1}
    for i in range(n):
        # Exclusion of bidder i.
        if i == 0:
            r_tab, r_arg = lam[0].expand(size, batch), None
        else:
            r_tab, r_arg = bidder_step(prefix, lam[i], blocks)
        if i + 1 < n:
            qfd, qarg = sfd[i + 1]
            tot = r_tab + qfd.flip(0)  # R_i[U] + Qfd_{i+1}[M \ U]
        else:
            tot = r_tab
        maw_minus[:, i], u = tot.max(dim=0)
        out = alloc_minus[:, i]
        s_i = u if r_arg is None else _gather_rows(r_arg, u)
        out[:, i] = s_i
        _backtrack_prefix(pargs, i - 1, u ^ s_i, out)
        if i + 1 < n:
            rest = _gather_rows(qarg, full ^ u)
            for k in range(i + 1, n - 1):
                s = _gather_rows(sarg[k], rest)
                out[:, k] = s
                rest = rest ^ s
            out[:, n - 1] = rest
        # Extend the prefix with bidder i.
        if i == 0:
            prefix = v[0]
        else:
            prefix, pargs[i] = bidder_step(prefix, v[i], blocks)
    maw, u_star = prefix.max(dim=0)
    _backtrack_prefix(pargs, n - 1, u_star, alloc)
    return maw, alloc, maw_minus, alloc_minus
