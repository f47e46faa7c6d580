"""Item-Myerson: the exact Myerson auction run independently on every item (docs/methods.md#item-myerson
and #paper-defects).

For item j and bidder i with value v = v_i({j}) ~ F_i, the virtual value is phi_i(v) = v - (1 - F_i(v)) / f_i(v).
The item goes to argmax_i phi_i(v_ij) when that maximum is >= 0 (nobody otherwise), and the winner w pays its
critical value phi_w^{-1}(max(0, max_{k != w} phi_k(v_kj))), i.e. the larger of its reserve r_w = phi_w^{-1}(0)
and the bid at which it would tie the best competitor. Revenue per item = E[max(0, max_i phi_i(v_i))].

Priors of the additive settings (docs/methods.md#combinatorial-settings), bidder i = 1..n:

* (A) U[0, 1]: phi(v) = 2v - 1, reserve 1/2; revenue per item (n - 1)/(n + 1) + 2^-n / (n + 1).
* (B) U[0, i]: phi_i(v) = 2v - i, phi_i^{-1}(t) = (t + i)/2, reserve i/2.
* (C) LogNormal(0, sigma_i = 1/i): with z = ln(v)/sigma, phi(v) = v [1 - sigma (1 - Phi(z)) / varphi(z)]; the
  inverse is found by bisection. These priors are regular (phi increasing, checked in the tests), so no ironing
  is needed; :func:`check_regular` verifies this on a grid.

Setting (D) is not additive and has no Item-Myerson baseline (the paper reports "-").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from pipeline_lib.vvca.evaluate import BlockFn

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class UniformPrior:
    """v ~ U[0, high]."""

    high: float

    def virtual_value(self, v: torch.Tensor) -> torch.Tensor:
        return 2.0 * v - self.high

    def inverse_virtual_value(self, t: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        """phi^{-1}(t) for t >= 0 (closed form; ``upper`` is unused)."""
        return (t + self.high) / 2.0

    @property
    def reserve(self) -> float:
        return self.high / 2.0


@dataclass(frozen=True)
class LogNormalPrior:
    """v = exp(x), x ~ N(0, sigma^2)."""

    sigma: float
    bisection_steps: int = 64  # bracket [r, v] shrinks to (v - r) 2^-64, below float64 resolution

    def virtual_value(self, v: torch.Tensor) -> torch.Tensor:
        """phi(v) = v [1 - sigma * Mills(z)], Mills(z) = (1 - Phi(z)) / varphi(z), computed in log space."""
        v = v.clamp_min(torch.finfo(v.dtype).tiny)
        z = v.log() / self.sigma
        log_mills = torch.special.log_ndtr(-z) + 0.5 * z * z + _LOG_SQRT_2PI
        return v * (1.0 - self.sigma * log_mills.exp())

    def inverse_virtual_value(self, t: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        """phi^{-1}(t) by bisection on [r, upper], where phi(upper) >= t >= 0 = phi(r) (phi is increasing)."""
        lo = torch.full_like(t, self.reserve_value(t.dtype))
        hi = torch.maximum(upper, lo)
        for _ in range(self.bisection_steps):
            mid = 0.5 * (lo + hi)
            below = self.virtual_value(mid) < t
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        return 0.5 * (lo + hi)

    def reserve_value(self, dtype: torch.dtype = torch.float64) -> float:
        """r with phi(r) = 0 (bisection in float64, cached per sigma)."""
        return _lognormal_reserve(self.sigma)

    @property
    def reserve(self) -> float:
        return _lognormal_reserve(self.sigma)


@lru_cache(maxsize=256)
def _lognormal_reserve(sigma: float) -> float:
    """Root of phi(v) = v [1 - sigma Mills(ln v / sigma)] by bisection on [1e-6, e^{6 sigma}]."""
    prior = LogNormalPrior(sigma)
    lo, hi = 1e-6, math.exp(6.0 * sigma)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if float(prior.virtual_value(torch.tensor(mid, dtype=torch.float64))) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


Prior = UniformPrior | LogNormalPrior


def item_priors(distribution: str, n: int) -> list[Prior]:
    """Per-bidder item-value priors of settings (A), (B), (C) (bidder i = 1..n); (D) has none."""
    if distribution == "A":
        return [UniformPrior(1.0) for _ in range(n)]
    if distribution == "B":
        return [UniformPrior(float(i)) for i in range(1, n + 1)]
    if distribution == "C":
        return [LogNormalPrior(1.0 / i) for i in range(1, n + 1)]
    raise ValueError(f"Item-Myerson is defined for the additive settings A, B, C, not {distribution!r}")


def check_regular(prior: Prior, upper: float, points: int = 20001) -> bool:
    """True when phi is strictly increasing on a grid of (0, upper] (regular prior: no ironing needed)."""
    grid = torch.linspace(upper / points, upper, points, dtype=torch.float64)
    return bool(torch.all(torch.diff(prior.virtual_value(grid)) > 0))


@dataclass
class ItemMyersonOutcome:
    """winners (B, m): bidder index per item or -1; alloc (B, n): bundle bitmasks; payments (B, n);
    revenue and welfare (B,)."""

    winners: torch.Tensor
    alloc: torch.Tensor
    payments: torch.Tensor
    revenue: torch.Tensor
    welfare: torch.Tensor


@torch.no_grad()
def item_myerson(items: torch.Tensor, priors: list[Prior]) -> ItemMyersonOutcome:
    """Run the Myerson auction on every item of every profile.

    Args:
        items: item values v_i({j}), shape (B, n, m).
        priors: one prior per bidder (the same prior for every item).
    """
    batch, n, m = items.shape
    if len(priors) != n:
        raise ValueError(f"{len(priors)} priors for {n} bidders")
    phi = torch.stack([priors[i].virtual_value(items[:, i]) for i in range(n)], dim=1)  # (B, n, m)
    best, winner = phi.max(dim=1)  # (B, m)
    sold = best >= 0
    if n > 1:
        others = phi.scatter(1, winner.unsqueeze(1), float("-inf")).amax(dim=1)
    else:
        others = torch.full_like(best, float("-inf"))
    threshold = others.clamp_min(0.0)  # phi value the winner has to reach
    price = torch.zeros_like(best)
    value_of_winner = items.gather(1, winner.unsqueeze(1)).squeeze(1)
    for i, prior in enumerate(priors):
        mask = sold & (winner == i)
        if mask.any():
            price[mask] = prior.inverse_virtual_value(threshold[mask], value_of_winner[mask])
    winners = torch.where(sold, winner, torch.full_like(winner, -1))
    onehot = (winners.unsqueeze(1) == torch.arange(n, device=items.device)[None, :, None]).to(items.dtype)
    payments = (onehot * price.unsqueeze(1)).sum(2)
    bits = (1 << torch.arange(m, device=items.device)).to(torch.long)
    alloc = (onehot.long() * bits).sum(2)
    welfare = (onehot * items).sum((1, 2))
    return ItemMyersonOutcome(winners, alloc, payments, payments.sum(1), welfare)


def item_myerson_block_fn(distribution: str, n: int, device: torch.device, dtype: torch.dtype) -> BlockFn:
    """Block evaluator of Item-Myerson on additive item values (B, n, m)."""
    priors = item_priors(distribution, n)

    def run(values: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        items = torch.from_numpy(np.array(values, dtype=np.float64)).to(device=device, dtype=dtype)
        out = item_myerson(items, priors)
        bits = (out.alloc.unsqueeze(2) >> torch.arange(items.shape[2], device=device)) & 1
        return out.payments, (items * bits.to(dtype)).sum(2)

    return run
