"""THE single-item evaluator: revenue, per-bidder ex-post regret, IR violations, welfare, with 95% CIs.

One evaluator serves learned mechanisms and every baseline alike (docs/methods.md#single-item-evaluator). A
mechanism is any callable ``bids (B, n) -> (alloc (B, n), pay (B, n))``.

Utility and regret (docs/methods.md#single-item-evaluator): bidder i with value v_i facing truthful others has utility
u_i(b'; v) = a_i(b', v_-i) v_i - p_i(b', v_-i), and per-profile regret

    r_i(v) = max(0, sup_{b' in [0, B]} u_i(b'; v) - u_i(v_i; v)).

The supremum is searched exhaustively (section 5.3): a uniform grid of G >= 1001 points over the whole misreport
domain [0, B]; every other bidder's bid +- eps * B (threshold mechanisms jump there); optional extra points (known
reserves); then, for differentiable mechanisms, Adam ascent from the best grid points, the truthful value and
random draws, keeping the best iterate. Everything runs in float64.

Reported (section 5.4): revenue E[sum_i p_i]; mean per-bidder regret E[r_i] (RegretNet convention) and the summed
regret E[sum_i r_i]; p95/p99/max of the per-profile summed regret and the share above 1e-3; IR violations
(u_i(v_i; v) < -tol); welfare ratio E[sum_i a_i v_i] / E[max_i v_i]; winner accuracy as a secondary metric.
Confidence intervals are percentile bootstrap intervals over profiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from pipeline_lib.single_item.evaluation.statistics import Bootstrap, summarise
from pipeline_lib.single_item.mechanisms.utility import deviation_utilities

Tensor = torch.Tensor
MechanismFn = Callable[[Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class RegretSearch:
    """How the misreport supremum is searched. ``eps``, ``refine_lr`` are relative to ``upper`` (= B).

    ``fast`` (docs/methods.md#evaluator-shortcuts): the refinement (``refine_steps`` > 0, differentiable mechanisms)
    searches the bracket [b_{k-1}, b_{k+1}] of each of the ``refine_top`` best grid peaks b_k whose bound (grid
    value plus ``refine_margin`` times the drop to its neighbours) exceeds max(grid best, truthful utility), by
    ``refine_bracket`` golden-section steps; ``fast=False``: Adam from every start of every pair for
    ``refine_steps`` steps (the exhaustive refinement). ``screen_keep`` > 0 (fast search, mechanisms with a
    ``with_dtype`` copy): the grid is screened in float32 and its ``screen_keep`` best candidates per pair are
    scored again in float64 (docs/methods.md#evaluator-shortcuts)."""

    upper: float = 1.0
    grid: int = 1001
    eps: float = 1e-6
    extra_points: tuple[float, ...] = ()
    refine_top: int = 5
    refine_random: int = 0
    refine_steps: int = 0
    refine_lr: float = 0.01
    chunk_rows: int = 1 << 13
    seed: int = 0
    fast: bool = True
    refine_bracket: int = 40
    refine_margin: float = 2.0
    screen_keep: int = 8

    def __post_init__(self) -> None:
        if not (self.upper > 0 and math.isfinite(self.upper)):
            raise ValueError(f"misreport domain upper bound must be positive and finite, got {self.upper}")
        if self.grid < 2:
            raise ValueError("the misreport grid needs at least two points")


def misreport_upper(values: np.ndarray, support_upper: float = math.inf, factor: float = 1.5) -> float:
    """B: the support maximum where it is finite, else ``factor`` times the largest value seen (search step 1)."""
    if math.isfinite(support_upper):
        return float(support_upper)
    return float(factor * max(float(np.max(values)), 1e-12))


def is_differentiable(mech: Any) -> bool:
    """Mechanisms declare ``differentiable = False`` when gradients w.r.t. bids carry no information."""
    return bool(getattr(mech, "differentiable", True))


def deviation_utility(mech: MechanismFn, values: Tensor, bidder: int, misreports: Tensor) -> Tensor:
    """u_i(b'; v) of one ``bidder`` for each profile (rows) and misreport b' (columns), shape (P, K): the shared
    :func:`pipeline_lib.single_item.mechanisms.utility.deviation_utilities` for one bidder."""
    return deviation_utilities(mech, values, misreports[:, None, :], (bidder,))[:, 0]


def _candidates(values: Tensor, bidder: int, search: RegretSearch) -> Tensor:
    """Grid over [0, B], the other bids +- eps B, and the extra points; shape (P, K)."""
    p, n = values.shape
    opts = {"dtype": values.dtype, "device": values.device}
    grid = torch.linspace(0.0, search.upper, search.grid, **opts).expand(p, -1)
    parts = [grid]
    if n > 1:
        others = torch.cat([values[:, :bidder], values[:, bidder + 1 :]], dim=1)
        delta = search.eps * search.upper
        parts += [others - delta, others + delta]
    if search.extra_points:
        parts.append(torch.tensor(search.extra_points, **opts).expand(p, -1))
    return torch.cat(parts, dim=1).clamp(0.0, search.upper)


def _refine(
    mech: MechanismFn, values: Tensor, bidder: int, starts: Tensor, search: RegretSearch, gen: torch.Generator
) -> Tensor:
    """Adam ascent on u_i from ``starts`` (P, S) plus random draws; returns the best utility seen per profile."""
    if search.refine_random:
        rnd = torch.rand(starts.shape[0], search.refine_random, generator=gen, dtype=values.dtype)
        starts = torch.cat([starts, rnd.to(values.device) * search.upper], dim=1)
    m = starts.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([m], lr=search.refine_lr * search.upper)
    best = torch.full((values.shape[0],), -math.inf, dtype=values.dtype, device=values.device)
    for _ in range(search.refine_steps):
        with torch.enable_grad():
            u = deviation_utility(mech, values, bidder, m)
            (grad,) = torch.autograd.grad(u.sum(), m)
        best = torch.maximum(best, u.detach().amax(dim=1))
        m.grad = -grad
        opt.step()
        with torch.no_grad():
            m.clamp_(0.0, search.upper)
    with torch.no_grad():
        best = torch.maximum(best, deviation_utility(mech, values, bidder, m.detach()).amax(dim=1))
    return best


@dataclass
class RegretResult:
    """Per-profile, per-bidder outcomes of truthful bidding and the regret search."""

    alloc: Tensor  # (N, n) truthful allocation
    pay: Tensor  # (N, n) truthful payment
    utility: Tensor  # (N, n) truthful utility a_i v_i - p_i
    regret: Tensor  # (N, n) r_i >= 0
    best_misreport: Tensor  # (N, n) the grid misreport attaining the grid maximum


def _ex_post_regret_exhaustive(mech: MechanismFn, values: Tensor, search: RegretSearch) -> RegretResult:
    """:func:`ex_post_regret` without shortcuts (``search.fast`` False): the candidate pass bidder by bidder in
    chunks of ``chunk_rows`` mechanism rows, then (differentiable mechanisms) ``refine_steps`` Adam steps from every
    start of every profile and bidder."""
    n_prof, n = values.shape
    refine = search.refine_steps > 0 and is_differentiable(mech)
    gen = torch.Generator().manual_seed(search.seed)
    with torch.no_grad():
        alloc, pay = mech(values)
        utility = alloc * values - pay
    best = torch.empty_like(values)
    best_mis = torch.empty_like(values)
    k = search.grid + 2 * (n - 1) + len(search.extra_points)
    n_top = min(search.refine_top, k)
    starts = torch.empty((n_prof, n, n_top + 1), dtype=values.dtype, device=values.device) if refine else None
    rows = max(1, search.chunk_rows // k)
    for lo in range(0, n_prof, rows):
        v = values[lo : lo + rows]
        for i in range(n):
            cand = _candidates(v, i, search)
            with torch.no_grad():
                u = deviation_utility(mech, v, i, cand)
            top, arg = u.max(dim=1)
            best[lo : lo + rows, i] = top
            best_mis[lo : lo + rows, i] = cand.gather(1, arg[:, None])[:, 0]
            if starts is not None:
                idx = u.topk(n_top, dim=1).indices
                starts[lo : lo + rows, i] = torch.cat([cand.gather(1, idx), v[:, i : i + 1]], dim=1)
    if starts is not None:
        rows = max(1, search.chunk_rows // (starts.shape[2] + search.refine_random))
        for lo in range(0, n_prof, rows):
            for i in range(n):
                found = _refine(mech, values[lo : lo + rows], i, starts[lo : lo + rows, i], search, gen)
                best[lo : lo + rows, i] = torch.maximum(best[lo : lo + rows, i], found)
    regret = (best - utility).clamp_min(0.0)
    return RegretResult(alloc.detach(), pay.detach(), utility.detach(), regret, best_mis)


def _all_candidates(values: Tensor, search: RegretSearch) -> Tensor:
    """:func:`_candidates` of every bidder, shape (P, n, K); the first ``grid`` columns are the sorted grid."""
    return torch.stack([_candidates(values, i, search) for i in range(values.shape[1])], dim=1)


def pair_outcomes(mech: Any, values: Tensor, bidder: Tensor, misreports: Tensor) -> tuple[Tensor, Tensor]:
    """a_i(b', v_-i) and p_i(b', v_-i) of row r's deviating bidder i = ``bidder[r]`` for its K misreports
    ``misreports`` (R, K), the others truthful at ``values`` (R, n); both (R, K). A mechanism may provide the same
    map as ``deviation_outcomes(values, bidder, misreports)`` to skip work that does not depend on b' (a critical
    price of the others' bids: :class:`pipeline_lib.single_item.mechanisms.nets.AsMechanism`); otherwise one
    mechanism call on R K profiles."""
    fast = getattr(mech, "deviation_outcomes", None)
    if fast is not None:
        return fast(values, bidder, misreports)
    r, n = values.shape
    k = misreports.shape[1]
    col = bidder[:, None, None].expand(r, k, 1)
    bids = values[:, None, :].expand(r, k, n).scatter(2, col, misreports[..., None])
    alloc, pay = mech(bids.reshape(-1, n))
    return alloc.reshape(r, k, n).gather(2, col)[..., 0], pay.reshape(r, k, n).gather(2, col)[..., 0]


def pair_utility(mech: Any, values: Tensor, bidder: Tensor, misreports: Tensor) -> Tensor:
    """u_i(b'; v) = a_i(b', v_-i) v_i - p_i(b', v_-i) of :func:`pair_outcomes`, shape (R, K)."""
    a, p = pair_outcomes(mech, values, bidder, misreports)
    return a * values.gather(1, bidder[:, None]) - p


def _grid_pass(
    mech: MechanismFn, values: Tensor, search: RegretSearch, refine: bool
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Every candidate of every (profile, bidder) pair, all bidders in one mechanism call per chunk. Returns the
    best candidate value and misreport (N, n) and, when refining, the ``refine_top`` grid peaks (N, n, S) with the
    bounds of :func:`_peak_bounds` (-inf: fewer peaks)."""
    n_prof, n = values.shape
    k = search.grid + 2 * (n - 1) + len(search.extra_points)
    n_top = min(search.refine_top, search.grid)
    best = torch.empty_like(values)
    best_mis = torch.empty_like(values)
    peaks = torch.empty((n_prof, n, n_top), dtype=values.dtype, device=values.device) if refine else None
    bounds = torch.empty_like(peaks) if refine else None
    rows = max(1, search.chunk_rows // (k * n))
    bidders = torch.arange(n, device=values.device)
    screen = _screening_copy(mech, search, k)
    for lo in range(0, n_prof, rows):
        v = values[lo : lo + rows]
        p = v.shape[0]
        cand = _all_candidates(v, search).reshape(p * n, k)
        rows_v, rows_i = v.repeat_interleave(n, 0), bidders.repeat(p)  # pair r: profile r // n, bidder r % n
        with torch.no_grad():
            if screen is None:
                u = pair_utility(mech, rows_v, rows_i, cand)
                top, arg = u.max(dim=1)
            else:
                u, top, arg = _screened_utility(mech, screen, rows_v, rows_i, cand, search.screen_keep)
        best[lo : lo + rows] = top.reshape(p, n)
        best_mis[lo : lo + rows] = cand.gather(1, arg[:, None]).reshape(p, n)
        if refine:
            val, idx = _peak_bounds(u[:, : search.grid], search.refine_margin).topk(n_top, dim=1)
            peaks[lo : lo + rows] = cand.gather(1, idx).reshape(p, n, n_top)
            bounds[lo : lo + rows] = val.reshape(p, n, n_top)
    return best, best_mis, peaks, bounds


def _screening_copy(mech: Any, search: RegretSearch, k: int) -> Any:
    """The float32 copy of ``mech`` that screens the grid (``search.screen_keep`` > 0 and fewer kept candidates than
    there are, the fast search, a differentiable mechanism with ``with_dtype``), else None: the grid is scored in
    float64. Not for piecewise-constant mechanisms: a float32 argmax may flip a near-tie, and the jump it misses is
    not small."""
    copy = getattr(mech, "with_dtype", None)
    if not (search.fast and 0 < search.screen_keep < k and copy is not None and is_differentiable(mech)):
        return None
    return copy(torch.float32)


def _screened_utility(
    mech: MechanismFn, screen: MechanismFn, values: Tensor, bidder: Tensor, cand: Tensor, keep: int
) -> tuple[Tensor, Tensor, Tensor]:
    """u_i on every candidate ``cand`` (R, K) of row r's deviating ``bidder[r]`` at ``values`` (R, n): the float32
    ``screen`` scores every candidate, ``mech`` rescores each pair's ``keep`` best of them in float64, and the grid
    maximum is the best rescored one. Returns the screened utilities (float64, for the peak bounds), the maximum
    and its column. A candidate the screen ranks below ``keep`` others is within twice the float32 error of the
    best (4e-7 on a hetero RegretNet at values up to 5, benchmarks/evaluator_speed.py), so the maximum can be low by
    that much at most; the peak bounds are raised by the largest float32 error seen on the rescored candidates,
    so a refinement is skipped only where it could not raise the regret by more than that."""
    u32 = pair_utility(screen, values.float(), bidder, cand.float()).double()
    kept = u32.topk(keep, dim=1).indices
    u64 = pair_utility(mech, values, bidder, cand.gather(1, kept))
    top, j = u64.max(dim=1)
    slack = 4.0 * float((u64 - u32.gather(1, kept)).abs().max())
    return u32 + slack, top, kept.gather(1, j[:, None])[:, 0]


def _peak_bounds(g: Tensor, margin: float) -> Tensor:
    """An upper bound on u over [b_{k-1}, b_{k+1}] at each grid peak k of the grid values ``g`` (R, G); -inf at
    the other grid points (they lie on the slope of a hill whose peak is bracketed).

    A grid peak u_k >= u_{k-1}, u_{k+1} (an end point compares with its one neighbour) with drop
    d_k = max(u_k - u_{k-1}, u_k - u_{k+1}) bounds the top of its hill by u_k + d_k / 4 for a smooth peak
    (u = M - c (b - b*)^2 with |b_k - b*| <= h / 2: M - u_k <= c h^2 / 4 <= d_k / 4) and by u_k + d_k for a
    piecewise-linear one (a ReLU net's kink); the bound is u_k + ``margin`` d_k."""
    left = torch.cat([g[:, 1:2], g[:, :-1]], dim=1)  # an end point's outer neighbour: its inner one (mirrored)
    right = torch.cat([g[:, 1:], g[:, -2:-1]], dim=1)
    peak = (g >= left) & (g >= right)
    return torch.where(peak, g + margin * torch.maximum(g - left, g - right), torch.full_like(g, -math.inf))


def _refine_peaks(
    mech: MechanismFn, values: Tensor, bidder: Tensor, peaks: Tensor, valid: Tensor, search: RegretSearch
) -> Tensor:
    """Golden-section search on u_i over the bracket [b_{k-1}, b_{k+1}] of each ``valid`` grid peak b_k (``peaks``
    (P, S), rows of ``values`` with deviating ``bidder``); returns the best utility each pair reached, (P,)
    (-inf where nothing was refined). A peak's bracket holds the maximum of its hill (u_{k-1}, u_{k+1} <= u_k);
    ``refine_bracket`` golden-section steps shrink it by 0.618 each, to 2 h 0.618^steps (40 steps: 1e-11 B at
    h = B / 1000), one forward evaluation per step and no gradients."""
    p = values.shape[0]
    pair = torch.arange(p, device=values.device)[:, None].expand_as(peaks)[valid]
    h = search.upper / (search.grid - 1)
    lo, hi = (peaks[valid] - h).clamp_min(0.0), (peaks[valid] + h).clamp_max(search.upper)
    vals, who = values[pair], bidder[pair]
    inv_phi = (math.sqrt(5.0) - 1.0) / 2.0

    def u_at(x: Tensor) -> Tensor:
        with torch.no_grad():
            return pair_utility(mech, vals, who, x[:, None])[:, 0]

    c, d = hi - inv_phi * (hi - lo), lo + inv_phi * (hi - lo)
    fc, fd = u_at(c), u_at(d)
    best = torch.maximum(fc, fd)
    for _ in range(search.refine_bracket):
        left = fc >= fd  # the maximum lies in [lo, d], else in [c, hi]
        hi, lo = torch.where(left, d, hi), torch.where(left, lo, c)
        c, d = torch.where(left, hi - inv_phi * (hi - lo), d), torch.where(left, c, lo + inv_phi * (hi - lo))
        fx = u_at(torch.where(left, c, d))
        fc, fd = torch.where(left, fx, fd), torch.where(left, fc, fx)
        best = torch.maximum(best, fx)
    return torch.full((p,), -math.inf, dtype=values.dtype, device=values.device).scatter_reduce(0, pair, best, "amax")


def _ex_post_regret_fast(mech: MechanismFn, values: Tensor, search: RegretSearch) -> RegretResult:
    """:func:`ex_post_regret` with the shortcuts of ``search.fast`` (docs/methods.md#single-item-evaluator): the
    same candidates, all bidders per mechanism call; Adam only for pairs where a start's grid bound exceeds
    max(grid best, truthful utility), from those starts, the truthful value and the random draws, each start until
    it converges or falls below a better one."""
    n_prof, n = values.shape
    refine = search.refine_steps > 0 and is_differentiable(mech)
    with torch.no_grad():
        alloc, pay = mech(values)
        utility = alloc * values - pay
    best, best_mis, starts, scores = _grid_pass(mech, values, search, refine)
    if refine:
        valid = scores > torch.maximum(best, utility)[..., None]  # a peak whose bound can raise the regret
        todo = valid.any(dim=2).reshape(-1).nonzero()[:, 0]  # refined pairs, flat index profile * n + bidder
        rows = max(1, search.chunk_rows // starts.shape[2])
        f_starts, f_valid = starts.reshape(n_prof * n, -1), valid.reshape(n_prof * n, -1)
        f_best = best.reshape(-1)
        for lo in range(0, todo.numel(), rows):
            idx = todo[lo : lo + rows]
            found = _refine_peaks(mech, values[idx // n], idx % n, f_starts[idx], f_valid[idx], search)
            f_best[idx] = torch.maximum(f_best[idx], found)
    regret = (best - utility).clamp_min(0.0)
    return RegretResult(alloc.detach(), pay.detach(), utility.detach(), regret, best_mis)


def ex_post_regret(mech: MechanismFn, values: Tensor, search: RegretSearch) -> RegretResult:
    """Per-bidder ex-post regret of ``mech`` on ``values`` (N, n): the exhaustive candidate pass in chunks of
    ``chunk_rows`` mechanism rows, then (differentiable mechanisms) the refinement pass; with ``search.fast`` the
    refinement shortcuts of docs/methods.md#evaluator-shortcuts (the same supremum, found with less work)."""
    if search.fast:
        return _ex_post_regret_fast(mech, values, search)
    return _ex_post_regret_exhaustive(mech, values, search)


@dataclass
class Evaluation:
    """Metrics of one mechanism on one test set, plus the per-profile arrays they came from."""

    metrics: dict[str, Any]
    search: RegretSearch
    result: RegretResult = field(repr=False)
    reference_revenue: Tensor | None = field(default=None, repr=False)  # (N,) of the reference mechanism

    def to_json(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "search": asdict(self.search), "n_profiles": int(self.result.regret.shape[0])}


def evaluate_mechanism(
    mech: MechanismFn,
    values: np.ndarray | Tensor,
    search: RegretSearch,
    bootstrap: Bootstrap | None = None,
    device: torch.device | str = "cpu",
    reference: MechanismFn | None = None,
) -> Evaluation:
    """Evaluate ``mech`` on truthful profiles ``values`` (N, n): the whole section 5.4 report in float64; with a
    ``reference`` mechanism also the paired revenue ratio ``revenue_vs_myerson`` and the paired excess (the verdict
    against a known optimum is :mod:`pipeline_lib.single_item.evaluation.optimum_check`'s)."""
    v = torch.as_tensor(np.asarray(values) if not isinstance(values, Tensor) else values)
    v = v.to(device=device, dtype=torch.float64)
    result = ex_post_regret(mech, v, search)
    ref_revenue = None
    if reference is not None:
        with torch.no_grad():
            ref_revenue = reference(v)[1].sum(1)
    metrics = summarise(result, v, bootstrap or Bootstrap(), ref_revenue)
    return Evaluation(metrics, search, result, ref_revenue)
