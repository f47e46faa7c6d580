"""Virtual-value (threshold) auctions: Vickrey, second price with a reserve, a reserve fitted on data; and first
price, the manipulable reference.

A mechanism here is a callable ``bids (B, n) -> (alloc (B, n), pay (B, n))`` on torch tensors of any float dtype;
``alloc[:, i]`` is bidder i's probability of winning, ``pay[:, i]`` its (expected) payment. The learned networks of
:mod:`pipeline_lib.single_item.mechanisms.nets` have the same signature, so one evaluator serves all.

Virtual-value auctions
----------------------
With a non-decreasing ranking function phi (:class:`~pipeline_lib.single_item.mechanisms.ranking.PiecewiseLinear`),
the item goes to a bidder with the largest phi(b_i) provided it is >= 0 (ties split evenly), and each winner pays its
threshold bid (Myerson's payment identity p_i = b_i a_i(b) - int_0^{b_i} a_i(z, b_-i) dz):

* Vickrey (second price)        phi(v) = v                       (reserve 0: always sells on non-negative bids)
* second price with reserve r   phi(v) = v - r
* Myerson, i.i.d. bidders       phi = the ironed virtual value (:mod:`pipeline_lib.single_item.mechanisms.myerson`).

Because a_i(z, b_-i) is a step function of z (0 below the threshold, 1/(k+1) on a tie plateau shared with k others,
1 above), the payment integral is closed form, so every virtual-value auction is exactly dominant-strategy IC and
ex-post IR: the oracle the evaluator is tested against (docs/methods.md#evaluator-oracles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from pipeline_lib.single_item.mechanisms.priors import Prior, prior_quantile
from pipeline_lib.single_item.mechanisms.ranking import PiecewiseLinear

Tensor = torch.Tensor
MechanismFn = Callable[[Tensor], tuple[Tensor, Tensor]]


def monopoly_reserve(phi: PiecewiseLinear) -> float:
    """r* = inf{v : phi(v) >= 0}: the least bid that can win in the virtual-value auction ranked by phi."""
    return float(phi.inverse_lo(torch.zeros(1, dtype=torch.float64))[0])


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
# Revenue formula and fitted reserve
# --------------------------------------------------------------------------------------------------------------
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
