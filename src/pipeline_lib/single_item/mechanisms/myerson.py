"""Myerson's optimal auction (Myerson 1981; docs/methods.md#myerson-and-ironing): the ironed virtual values, the
auction with its tie rules, and its expected revenue, the optimum. The ONE entry point per family is
:func:`myerson_for` (the auction) and :func:`optimal_revenue_for` (its revenue); read by evaluation, the baselines
and the report only, never by learning (:mod:`pipeline_lib.single_item.learning` does not import this module).

Ironing (Myerson 1981, section 6). Bidder i with prior F_i (density f_i) has virtual value
phi_i(v) = v - (1 - F_i(v)) / f_i(v). In quantile space u = F_i(v), H_i(u) = int_0^u phi_i(F_i^{-1}(s)) ds
= -v (1 - F_i(v)) (up to a constant, by parts), so only the cdf is needed for H_i; the ironed virtual value phibar_i
is the slope of the lower convex hull of H_i. Outside ironed intervals it equals phi_i, evaluated exactly with the pdf.

The auction ranks the bids by r_i = phibar_i(b_i), gives the item to the highest rank if it is >= 0 (else keeps it)
and charges each winner its critical bid, the least bid with which it still wins against b_-i. Its expected revenue
is E[max(0, max_i phibar_i(v_i))] (revenue = expected ironed virtual surplus whenever the allocation is constant on
every ironed interval, which holds for any tie rule that looks only at the ranks). Two tie rules (:data:`TIE_RULES`):

* ``split`` (one phibar for i.i.d. bidders; the virtual-value auction of
  :mod:`~pipeline_lib.single_item.mechanisms.vickrey`): bidders of equal top rank share the item evenly, each paying
  its threshold (see :class:`~pipeline_lib.single_item.mechanisms.vickrey.VirtualValueAuction`);
* ``lowest_index`` (any independent bidders, one phibar each): among bidders of equal top rank the lowest index wins
  (deterministic, so allocations are 0/1). Bidder i therefore wins iff r_i > A_i and r_i >= B_i with
  A_i = max_{k < i} r_k and B_i = max(0, max_{k > i} r_k), and its critical bid is

      inf{z : phibar_i(z) > A_i}   if A_i >= B_i   (it must strictly beat a lower-index bidder),
      inf{z : phibar_i(z) >= B_i}  otherwise.

  On an ironed interval [lo, hi] of bidder i at level t (phibar_i = t there) the two infima are lo and hi. So when
  the winner ties with the best other rank inside an ironed interval (it wins the tie, having the lowest index) it
  pays the LEFT end lo of its interval; a bidder above its interval that would lose a tie at that level to a
  lower-index rival pays the right end hi.

Both are thresholds of a monotone allocation: exactly dominant-strategy IC and ex-post IR (tests: zero regret through
the evaluator; payment identity). :func:`myerson_for` uses ``split`` for the report's i.i.d. families (uniform,
exponential, hetero) and ``lowest_index`` otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from scipy import integrate

from pipeline_lib.single_item.mechanisms.priors import Prior, bidder_priors, prior_from_family, prior_quantile
from pipeline_lib.single_item.mechanisms.ranking import PiecewiseLinear
from pipeline_lib.single_item.mechanisms.vickrey import MechanismFn, VirtualValueAuction, monopoly_reserve

Tensor = torch.Tensor
TIE_RULES = ("split", "lowest_index")


# --------------------------------------------------------------------------------------------------------------
# Ironing
# --------------------------------------------------------------------------------------------------------------
def ironed_virtual_value(prior: Prior, n_grid: int = 40001, tail: float = 1e-10, min_span: int = 3) -> PiecewiseLinear:
    """The ironed virtual value of ``prior`` as knots on a value grid.

    H(u) = -v (1 - F(v)) at u = F(v) (computed with u - 1 = -S(v), S the survival function); its lower convex
    hull G gives phi_bar = G'(F(v)). Hull segments spanning more than ``min_span`` grid cells are ironed
    intervals (phi_bar constant there); elsewhere phi_bar = phi exactly.
    """
    hi = prior.upper if math.isfinite(prior.upper) else prior_quantile(prior, 1.0 - tail)
    v = np.linspace(prior.lower, hi, n_grid)
    surv = prior.sf(v)  # u = 1 - S: using -S as the abscissa keeps full precision in the upper tail
    u, h = -surv, -v * surv
    hull = _lower_hull(u, h)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = v - surv / prior.pdf(v)
    ironed = np.zeros(n_grid, bool)
    phibar = phi.copy()
    for a, b in zip(hull[:-1], hull[1:], strict=True):
        if b - a > min_span:
            phibar[a : b + 1] = (h[b] - h[a]) / (u[b] - u[a])
            ironed[a : b + 1] = True
    if not np.all(np.isfinite(phibar)):
        raise ValueError("virtual value is not finite on the grid (pdf vanishes inside the support?)")
    phibar = np.maximum.accumulate(phibar)  # guards against rounding at hull vertices; exact phi is monotone there
    if v[0] > 0.0:  # bids below the support: extend with the first segment's slope
        slope = (phibar[1] - phibar[0]) / (v[1] - v[0])
        v, phibar = np.concatenate([[0.0], v]), np.concatenate([[phibar[0] - slope * v[0]], phibar])
    return PiecewiseLinear(v, phibar)


def _lower_hull(x: np.ndarray, y: np.ndarray) -> list[int]:
    """Indices of the lower convex hull of points sorted by x (Andrew's monotone chain)."""
    hull: list[int] = []
    for k in range(x.size):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (x[b] - x[a]) * (y[k] - y[a]) - (y[b] - y[a]) * (x[k] - x[a]) <= 0:
                hull.pop()
            else:
                break
        hull.append(k)
    return hull


def ironed_intervals(phi: PiecewiseLinear, atol: float = 1e-12) -> list[tuple[float, float, float]]:
    """Maximal flat stretches (lo, hi, value) of a ranking function: the ironed intervals."""
    out = []
    flat = np.abs(np.diff(phi.y)) <= atol
    k = 0
    while k < flat.size:
        if flat[k]:
            j = k
            while j < flat.size and flat[j]:
                j += 1
            out.append((float(phi.x[k]), float(phi.x[j]), float(phi.y[k])))
            k = j
        else:
            k += 1
    return out


def ironed_virtual_values(priors: Sequence[Prior]) -> list[PiecewiseLinear]:
    """phibar_i for each bidder; bidders sharing an (equal) prior share one function, so their ranks tie exactly."""
    cache: dict[Any, PiecewiseLinear] = {}
    out = []
    for p in priors:
        if p not in cache:
            cache[p] = ironed_virtual_value(p)
        out.append(cache[p])
    return out


# --------------------------------------------------------------------------------------------------------------
# The auctions
# --------------------------------------------------------------------------------------------------------------
def myerson(prior: Prior, name: str = "myerson") -> VirtualValueAuction:
    """Myerson's optimal auction for i.i.d. bidders with marginal ``prior`` (ironed when irregular)."""
    phi = ironed_virtual_value(prior)
    mech = VirtualValueAuction(phi, name)
    mech.params = {"reserve": mech.reserve(), "ironed_intervals": ironed_intervals(phi)}
    return mech


class AsymmetricMyerson:
    """The optimal auction for independent bidders with ranking functions ``phis`` (one per bidder); see the module
    docstring for the allocation, the lowest-index tie-break and the critical-bid payments."""

    differentiable = False

    def __init__(
        self, phis: Sequence[PiecewiseLinear], name: str = "myerson", params: Mapping[str, Any] | None = None
    ) -> None:
        if not phis:
            raise ValueError("need at least one bidder")
        self.phis = list(phis)
        self.name = name
        self.params = dict(params or {})

    @property
    def n_bidders(self) -> int:
        return len(self.phis)

    def ranks(self, bids: Tensor) -> Tensor:
        """r_i = phibar_i(b_i), shape (B, n)."""
        if bids.shape[-1] != self.n_bidders:
            raise ValueError(f"expected bids of {self.n_bidders} bidders, got shape {tuple(bids.shape)}")
        return torch.stack([phi(bids[:, i].contiguous()) for i, phi in enumerate(self.phis)], dim=1)

    def critical_bids(self, ranks: Tensor) -> Tensor:
        """c_i(b_-i): the least bid with which bidder i wins (see the module docstring), shape (B, n)."""
        b, n = ranks.shape
        ninf = torch.full((b, 1), -math.inf, dtype=ranks.dtype, device=ranks.device)
        before = torch.cat([ninf, ranks[:, :-1]], dim=1).cummax(dim=1).values  # A_i = max_{k<i} r_k
        after = torch.cat([ranks[:, 1:], ninf], dim=1).flip(1).cummax(dim=1).values.flip(1)  # max_{k>i} r_k
        after = after.clamp_min(0.0)  # B_i, the reserve rank 0 included
        strict = before >= after
        level = torch.where(strict, before, after)
        cols = []
        for i, phi in enumerate(self.phis):
            t = level[:, i].contiguous()
            cols.append(torch.where(strict[:, i], phi.inverse_hi(t), phi.inverse_lo(t)))
        return torch.stack(cols, dim=1)

    def __call__(self, bids: Tensor) -> tuple[Tensor, Tensor]:
        r = self.ranks(bids)
        top = r.argmax(dim=1)  # the first maximal index: the lowest-index tie-break
        sold = r.gather(1, top[:, None])[:, 0] >= 0
        alloc = torch.nn.functional.one_hot(top, self.n_bidders).to(bids.dtype) * sold[:, None].to(bids.dtype)
        return alloc, alloc * self.critical_bids(r)

    def reserves(self) -> list[float]:
        """Bidder i's reserve r_i = inf{v : phibar_i(v) >= 0}, the least bid that can win."""
        return [monopoly_reserve(phi) for phi in self.phis]


def asymmetric_myerson(priors: Sequence[Prior], name: str = "myerson") -> AsymmetricMyerson:
    """Myerson's optimal auction for independent bidders with the given priors (ironed per bidder)."""
    phis = ironed_virtual_values(priors)
    mech = AsymmetricMyerson(phis, name)
    mech.params = {
        "reserves": mech.reserves(),
        "ironed_intervals": [ironed_intervals(phi) for phi in phis],
        "tie_break": "lowest index",
    }
    return mech


# --------------------------------------------------------------------------------------------------------------
# The optimum: expected revenue
# --------------------------------------------------------------------------------------------------------------
def myerson_revenue(prior: Prior, n: int, n_grid: int = 200001) -> float:
    """Optimal expected revenue E[max_i phi_bar(v_i)^+] = int phi_bar(v)^+ d F(v)^n (Stieltjes sum, midpoints)."""
    phi = ironed_virtual_value(prior)
    hi = prior.upper if math.isfinite(prior.upper) else prior_quantile(prior, 1.0 - 1e-12)
    v = np.linspace(prior.lower, hi, n_grid)
    g = prior.cdf(v) ** n
    mid = torch.as_tensor(0.5 * (v[1:] + v[:-1]), dtype=torch.float64)
    return float(np.sum(np.maximum(phi(mid).numpy(), 0.0) * np.diff(g)))


def _rank_cdf(prior: Prior, phi: PiecewiseLinear, y: float) -> float:
    """P(phibar(V) <= y) = F(inf{z : phibar(z) > y}) for V ~ prior (F continuous, phibar non-decreasing)."""
    z = float(phi.inverse_hi(torch.tensor([y], dtype=torch.float64))[0])
    return float(prior.cdf(np.array(z)))


def optimal_revenue(priors: Sequence[Prior], tail: float = 1e-13, epsabs: float = 1e-10) -> float:
    """E[max(0, max_i phibar_i(v_i))] by quadrature, independent of any sampling:

        E[max(0, X)] = int_0^inf P(X > y) dy = int_0^Y (1 - prod_i P(phibar_i(v_i) <= y)) dy,

    Y = max_i phibar_i(upper_i) with upper_i the support maximum (the 1 - ``tail`` quantile when unbounded).
    P(phibar_i(v_i) <= y) jumps at the level of each ironed interval; those levels are break points of the
    adaptive Gauss-Kronrod rule (scipy ``quad``)."""
    phis = ironed_virtual_values(priors)
    tops = []
    for p, phi in zip(priors, phis, strict=True):
        hi = p.upper if math.isfinite(p.upper) else prior_quantile(p, 1.0 - tail)
        tops.append(float(phi(torch.tensor([hi], dtype=torch.float64))[0]))
    ymax = max(tops)
    if ymax <= 0.0:
        return 0.0
    levels = sorted({lvl for phi in phis for (_, _, lvl) in ironed_intervals(phi) if 0.0 < lvl < ymax})

    def survival(y: float) -> float:
        return 1.0 - math.prod(_rank_cdf(p, phi, y) for p, phi in zip(priors, phis, strict=True))

    value, _ = integrate.quad(survival, 0.0, ymax, points=levels or None, limit=500, epsabs=epsabs, epsrel=1e-9)
    return float(value)


# --------------------------------------------------------------------------------------------------------------
# The entry points of a family
# --------------------------------------------------------------------------------------------------------------
def myerson_for(family: Mapping[str, Any], n_bidders: int, tie_rule: str | None = None) -> MechanismFn:
    """Myerson's optimal auction of an independent family (symmetric or ``per_bidder``), with ``tie_rule`` (one of
    :data:`TIE_RULES`; None: ``split`` for the report's i.i.d. families, ``lowest_index`` otherwise). Refused for
    correlated families, which have no independent priors."""
    if tie_rule is not None and tie_rule not in TIE_RULES:
        raise ValueError(f"Myerson tie rule must be one of {TIE_RULES}, got {tie_rule!r}")
    prior = prior_from_family(family)
    if prior is not None and tie_rule in (None, "split"):
        return myerson(prior)
    priors = bidder_priors(family, n_bidders)
    if priors is None:
        raise ValueError(f"Myerson needs independent bidders with known priors, not {family['distribution']!r}")
    if tie_rule == "split" and any(p != priors[0] for p in priors):
        raise ValueError("Myerson's split tie rule needs i.i.d. bidders (one virtual value)")
    return myerson(priors[0]) if tie_rule == "split" else asymmetric_myerson(priors)


def optimal_revenue_for(family: Mapping[str, Any], n_bidders: int) -> float | None:
    """Myerson's optimal expected revenue of a family (no sampling): the closed-form Stieltjes sum for the report's
    i.i.d. families, the quadrature of :func:`optimal_revenue` for other independent ones, None for correlated ones."""
    prior = prior_from_family(family)
    if prior is not None:
        return myerson_revenue(prior, n_bidders)
    priors = bidder_priors(family, n_bidders)
    return None if priors is None else optimal_revenue(priors)
