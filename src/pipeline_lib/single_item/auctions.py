"""Classic single-item mechanisms: Vickrey, reserve auctions, Myerson with ironing, first price.

A mechanism here is a callable ``bids (B, n) -> (alloc (B, n), pay (B, n))`` on torch tensors of any float dtype;
``alloc[:, i]`` is bidder i's probability of winning, ``pay[:, i]`` its (expected) payment. The learned network of
:mod:`pipeline_lib.single_item.nets` has the same signature, so one evaluator serves all.

Virtual-value auctions
----------------------
Every truthful mechanism in this module except first price is a *virtual-value auction*: with a non-decreasing
ranking function phi, the item goes to a bidder with the largest phi(b_i) provided it is >= 0 (ties split evenly),
and each winner pays its threshold bid (Myerson's payment identity p_i = b_i a_i(b) - int_0^{b_i} a_i(z, b_-i) dz):

* Vickrey (second price)        phi(v) = v                       (reserve 0: always sells on non-negative bids)
* second price with reserve r   phi(v) = v - r
* Myerson (Myerson 1981)        phi = ironed virtual value  phi(v) = v - (1 - F(v)) / f(v), ironed where it falls.

Because a_i(z, b_-i) is a step function of z (0 below the threshold, 1/(k+1) on a tie plateau shared with k others,
1 above), the payment integral is closed form, so every virtual-value auction is exactly dominant-strategy IC and
ex-post IR: the oracle the evaluator is tested against (docs/methods.md#evaluator-oracles).

Ironing (Myerson 1981, section 6): in quantile space u = F(v), H(u) = int_0^u phi(F^{-1}(s)) ds = -v (1 - F(v))
(up to a constant, by parts), so only the cdf is needed for H; the ironed virtual value is the slope of the lower
convex hull of H. Outside ironed intervals it equals phi, which is evaluated exactly with the pdf.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pipeline_lib.single_item.distributions import (  # noqa: F401 - re-exported
    ExponentialPrior,
    MixturePrior,
    Prior,
    UniformPrior,
    hetero_prior,
    prior_from_family,
    prior_quantile,
)

Tensor = torch.Tensor
MechanismFn = Callable[[Tensor], tuple[Tensor, Tensor]]


# --------------------------------------------------------------------------------------------------------------
# Monotone piecewise-linear ranking functions and their generalised inverses
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PiecewiseLinear:
    """A non-decreasing piecewise-linear function through knots (x_k, y_k), extended linearly beyond both ends."""

    x: np.ndarray
    y: np.ndarray
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        x, y = np.asarray(self.x, float), np.asarray(self.y, float)
        if x.ndim != 1 or x.size < 2 or np.any(np.diff(x) <= 0):
            raise ValueError("knots x must be strictly increasing with at least two points")
        if np.any(np.diff(y) < 0):
            raise ValueError("ranking function must be non-decreasing")
        if y[1] <= y[0] or y[-1] <= y[-2]:
            raise ValueError("end segments must be strictly increasing (linear extension must be invertible)")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        dx = np.diff(x)
        object.__setattr__(self, "_step", float(dx[0]) if np.allclose(dx, dx[0], rtol=1e-9, atol=0) else None)

    @classmethod
    def affine(cls, slope: float, intercept: float) -> PiecewiseLinear:
        """phi(v) = slope * v + intercept."""
        return cls(np.array([0.0, 1.0]), np.array([intercept, slope + intercept]))

    def _knots(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        key = (like.device, like.dtype)
        if key not in self._cache:
            slopes = np.diff(self.y) / np.diff(self.x)
            self._cache[key] = tuple(
                torch.as_tensor(a, dtype=like.dtype, device=like.device) for a in (self.x, self.y, slopes)
            )
        return self._cache[key]

    @staticmethod
    def _interp(t: Tensor, xs: Tensor, ys: Tensor, k: Tensor) -> Tensor:
        """Linear interpolation on segment [k-1, k] of (xs -> ys), k clamped to the valid range."""
        k = k.clamp(1, xs.numel() - 1)
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        den = x1 - x0
        return y0 + (t - x0) * torch.where(den > 0, (y1 - y0) / torch.where(den > 0, den, 1), 0)

    @property
    def is_affine(self) -> bool:
        return self.x.size == 2

    def __call__(self, v: Tensor) -> Tensor:
        if self.is_affine:
            slope = (self.y[1] - self.y[0]) / (self.x[1] - self.x[0])
            return (v - self.x[0]) * slope + self.y[0]
        x, y, slopes = self._knots(v)
        if self._step is not None:  # uniform knots: the segment index is arithmetic, no search needed
            k = ((v - self.x[0]) / self._step).floor().clamp(0, x.numel() - 2).long()
        else:
            k = (torch.searchsorted(x, v.contiguous(), right=True) - 1).clamp(0, x.numel() - 2)
        return y[k] + (v - x[k]) * slopes[k]

    def _affine_inverse(self, t: Tensor) -> Tensor:
        slope = (self.y[1] - self.y[0]) / (self.x[1] - self.x[0])
        return ((t - self.y[0]) / slope + self.x[0]).clamp_min(0.0)

    def inverse_lo(self, t: Tensor) -> Tensor:
        """inf{z >= 0 : phi(z) >= t}: the lowest bid whose rank reaches t."""
        if self.is_affine:
            return self._affine_inverse(t)
        x, y, _ = self._knots(t)
        k = torch.searchsorted(y, t.contiguous(), right=False)
        return self._interp(t, y, x, k).clamp_min(0.0)

    def inverse_hi(self, t: Tensor) -> Tensor:
        """inf{z >= 0 : phi(z) > t}: the lowest bid whose rank beats t (differs from inverse_lo on a plateau)."""
        if self.is_affine:
            return self._affine_inverse(t)
        x, y, _ = self._knots(t)
        k = torch.searchsorted(y, t.contiguous(), right=True)
        return self._interp(t, y, x, k).clamp_min(0.0)


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


def monopoly_reserve(phi: PiecewiseLinear) -> float:
    """r* = inf{v : phi_bar(v) >= 0}."""
    return float(phi.inverse_lo(torch.zeros(1, dtype=torch.float64))[0])


# --------------------------------------------------------------------------------------------------------------
# Mechanisms
# --------------------------------------------------------------------------------------------------------------
class VirtualValueAuction:
    """Allocate to the highest phi(b_i) >= 0 (ties split evenly); each winner pays its threshold bid.

    For bidder i let m_i = max_{j != i} phi(b_j), t_i = max(m_i, 0) and k_i = #{j != i : phi(b_j) = t_i}.
    With z_lo = inf{z : phi(z) >= t_i} and z_hi = inf{z : phi(z) > t_i}:
      phi(b_i) > t_i, or = t_i with k_i = 0:  a_i = 1,         p_i = z_lo if k_i = 0 else z_hi - (z_hi - z_lo)/(k_i+1)
      phi(b_i) = t_i with k_i > 0:            a_i = 1/(k_i+1), p_i = z_lo / (k_i + 1)
      otherwise:                              a_i = 0,         p_i = 0.
    Only bidders holding the top rank (>= 0) can win, so t and k are computed once per profile from the two
    largest ranks: a tie at the top (c > 1 bidders) gives t = top rank, k = c - 1; a unique top gives
    t = max(second rank, 0) and k = #{j : phi(b_j) = t}.
    """

    differentiable = False

    def __init__(self, phi: PiecewiseLinear, name: str, params: Mapping[str, Any] | None = None) -> None:
        self.phi = phi
        self.name = name
        self.params = dict(params or {})

    def __call__(self, bids: Tensor) -> tuple[Tensor, Tensor]:
        rank = self.phi(bids)
        if bids.shape[1] > 1:
            top2 = rank.topk(2, dim=1).values
            top1, second = top2[:, 0:1], top2[:, 1]
        else:
            top1, second = rank, torch.full_like(rank[:, 0], -math.inf)
        winner = (rank == top1) & (top1 >= 0)
        n_top = winner.sum(dim=1).to(bids.dtype)
        tied = n_top > 1
        t = torch.where(tied, top1[:, 0], second.clamp_min(0.0))
        k_second = torch.where(second >= 0, (rank == second[:, None]).sum(dim=1).to(bids.dtype), 0.0)
        k = torch.where(tied, n_top - 1.0, k_second)
        z_lo, z_hi = self.phi.inverse_lo(t), self.phi.inverse_hi(t)
        unique_price = torch.where(k == 0, z_lo, z_hi - (z_hi - z_lo) / (k + 1.0))
        price = torch.where(tied, z_lo / n_top.clamp_min(1.0), unique_price)
        alloc = winner.to(bids.dtype) / n_top.clamp_min(1.0)[:, None]
        return alloc, winner.to(bids.dtype) * price[:, None]

    def reserve(self) -> float:
        """The lowest bid that can win: inf{v : phi(v) >= 0}."""
        return monopoly_reserve(self.phi)


def vickrey() -> VirtualValueAuction:
    """Second-price auction without reserve (phi(v) = v)."""
    return VirtualValueAuction(PiecewiseLinear.affine(1.0, 0.0), "vickrey", {"reserve": 0.0})


def second_price_reserve(reserve: float, name: str | None = None) -> VirtualValueAuction:
    """Second-price auction with anonymous reserve r (phi(v) = v - r): sell iff b_(1) >= r, price max(r, b_(2))."""
    return VirtualValueAuction(
        PiecewiseLinear.affine(1.0, -float(reserve)), name or f"vickrey_r{reserve:g}", {"reserve": float(reserve)}
    )


def myerson(prior: Prior, name: str = "myerson") -> VirtualValueAuction:
    """Myerson's optimal auction for i.i.d. bidders with marginal ``prior`` (ironed when irregular)."""
    phi = ironed_virtual_value(prior)
    mech = VirtualValueAuction(phi, name)
    mech.params = {"reserve": mech.reserve(), "ironed_intervals": ironed_intervals(phi)}
    return mech


class FirstPriceAuction:
    """Highest bid wins (ties split evenly) and pays its own bid: the manipulable oracle of
    docs/methods.md#evaluator-oracles."""

    differentiable = False
    name = "first_price"
    params: dict[str, Any] = {}

    def __call__(self, bids: Tensor) -> tuple[Tensor, Tensor]:
        top = bids.amax(dim=1, keepdim=True)
        winners = (bids == top).to(bids.dtype)
        alloc = winners / winners.sum(dim=1, keepdim=True)
        return alloc, alloc * bids


# --------------------------------------------------------------------------------------------------------------
# Revenue formulas and fitted reserves
# --------------------------------------------------------------------------------------------------------------
def myerson_revenue(prior: Prior, n: int, n_grid: int = 200001) -> float:
    """Optimal expected revenue E[max_i phi_bar(v_i)^+] = int phi_bar(v)^+ d F(v)^n (Stieltjes sum, midpoints)."""
    phi = ironed_virtual_value(prior)
    hi = prior.upper if math.isfinite(prior.upper) else prior_quantile(prior, 1.0 - 1e-12)
    v = np.linspace(prior.lower, hi, n_grid)
    g = prior.cdf(v) ** n
    mid = torch.as_tensor(0.5 * (v[1:] + v[:-1]), dtype=torch.float64)
    return float(np.sum(np.maximum(phi(mid).numpy(), 0.0) * np.diff(g)))


def second_price_revenue(prior: Prior, n: int, reserve: float = 0.0, n_grid: int = 200001) -> float:
    """E[max(r, v_(2)) 1{v_(1) >= r}] = int_r^inf P(price > s) ds + r P(v_(1) >= r), with
    P(price > s) = 1 - F^n - n F^{n-1}(1 - F) for s >= r (at least two bids above s)."""
    hi = prior.upper if math.isfinite(prior.upper) else prior_quantile(prior, 1.0 - 1e-12)
    s = np.linspace(reserve, hi, n_grid)
    f = prior.cdf(s)
    tail = 1.0 - f**n - n * f ** (n - 1) * (1.0 - f)
    integral = float(np.sum(0.5 * (tail[1:] + tail[:-1]) * np.diff(s)))
    return integral + reserve * (1.0 - float(prior.cdf(np.array(reserve))) ** n)


def fit_anonymous_reserve(values: np.ndarray) -> float:
    """argmax_r of the empirical second-price revenue sum_p max(r, v2_p) 1{v1_p >= r} over profiles p.

    The empirical revenue is piecewise linear and increasing in r between data points, so the maximum is at some
    top or second-highest value; R(r) = sum_{v2 >= r} v2 + r #{v2 < r <= v1} is evaluated at all of them.
    """
    srt = np.sort(np.asarray(values, np.float64), axis=1)
    v1, v2 = srt[:, -1], (srt[:, -2] if srt.shape[1] > 1 else np.zeros(len(srt)))
    cand = np.unique(np.concatenate([v1, v2, [0.0]]))
    v1s, v2s = np.sort(v1), np.sort(v2)
    suffix = np.concatenate([np.cumsum(v2s[::-1])[::-1], [0.0]])
    idx2 = np.searchsorted(v2s, cand, side="left")  # v2 >= r  <=> index >= idx2
    n_v1 = len(v1s) - np.searchsorted(v1s, cand, side="left")  # #{v1 >= r}
    n_v2 = len(v2s) - idx2  # #{v2 >= r}
    revenue = suffix[idx2] + cand * (n_v1 - n_v2)
    return float(cand[int(np.argmax(revenue))])
