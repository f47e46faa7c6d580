"""Grand-bundle Myerson: a baseline that sells only the grand bundle M, by a single-item auction with per-bidder
reserves on the bundle values (docs/methods.md#myerson-shaped-vvcas).

Bidder i's grand-bundle value is V_i = v_i(M): the sum of its item values in the additive settings (A), (B), (C),
and the stored v_i(M) (item values plus the complementarity term c_{i,M}) in setting (D). The reserve r_i is the
Myerson reserve of V_i, phi_i(r_i) = 0, which for a regular V_i is the revenue-maximising posted price
argmax_p p (1 - F_i(p)).

Estimator of r_i (:func:`empirical_myerson_reserve`): the distribution of V_i is a sum of item values with no
closed form in general, so r_i is fitted on the training split as the *empirical* revenue-maximising posted price,

    r_i = argmax_{p in {V_i^(1), ..., V_i^(N)}} p * #{t : V_i^(t) >= p} / N,

i.e. the posted-price optimum of the empirical distribution (the maximiser of p (1 - F(p)) always lies at a sample
point of the empirical distribution). It is consistent for the true reserve when p (1 - F_i(p)) has a unique
maximiser; its error is O_p(N^{-1/3}) and its revenue loss is second order (O_p(N^{-2/3})), which is why no
smoothing is applied. The tests check it against the closed form sqrt(2/3) of setting (A) with m = 2.

Allocation rules (``rule``), all DSIC and IR for any reserves (each winner pays its critical bid):

* ``"shifted"`` (default; the grand-bundle VVCA of :mod:`pipeline_lib.vvca.starts`): the winner is
  argmax_i (V_i - r_i) when that is >= 0, and pays r_w + max(0, max_{k != w} (V_k - r_k)). This is exact Myerson
  when every bidder's bundle virtual value is affine with a common slope, phi_i(v) = a (v - r_i); otherwise it is a
  second-price auction on reserve-shifted bids, *not* exact asymmetric Myerson (which would need each bidder's
  virtual value function phi_i, ranking the bidders by phi_i(V_i)).
* ``"eager"``: bidders below their reserve are removed, the highest remaining bid wins and pays
  max(r_w, highest other remaining bid).
* ``"lazy"``: the highest bid wins if it is at least its own reserve, and pays max(r_w, second-highest bid).

With symmetric bidders (settings (A), (D): one common reserve r and a regular bundle-value distribution) all three
rules coincide with the exact Myerson auction for the grand bundle (a second-price auction with reserve r).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

RULES = ("shifted", "eager", "lazy")


def grand_bundle_values(values: torch.Tensor, additive: bool) -> torch.Tensor:
    """V_i = v_i(M) for every profile and bidder, shape (B, n).

    Args:
        values: item values (B, n, m) when ``additive``, else bundle values (B, n, 2^m) (setting (D); the last
            column is the grand bundle M = 2^m - 1, complementarity term included).
    """
    if values.dim() != 3:
        raise ValueError(f"values must be (B, n, m) or (B, n, 2^m), got {tuple(values.shape)}")
    return values.sum(-1) if additive else values[..., -1]


def empirical_myerson_reserve(samples: torch.Tensor) -> torch.Tensor:
    """Empirical revenue-maximising posted price per column (module docstring).

    Args:
        samples: (N,) or (N, k) i.i.d. draws of each column's value.

    Returns:
        () or (k,) tensor: argmax over sample points p of p * #{samples >= p} / N (ties: the smallest p), in the
        input's dtype.
    """
    squeeze = samples.dim() == 1
    x = samples.reshape(samples.shape[0], -1).to(torch.float64)
    count = x.shape[0]
    if count == 0:
        raise ValueError("no samples to fit a reserve on")
    ordered, _ = torch.sort(x, dim=0)  # ascending: ordered[t] sells to at least N - t bidders' draws
    sold = torch.arange(count, 0, -1, dtype=torch.float64, device=x.device)[:, None]
    revenue = ordered * sold / count
    best = revenue.argmax(dim=0, keepdim=True)  # first maximiser = smallest price
    reserve = ordered.gather(0, best)[0].to(samples.dtype)
    return reserve[0] if squeeze else reserve


@dataclass
class BundleMyersonOutcome:
    """winner (B,) int64, -1 for no sale; payments (B, n); revenue (B,); welfare (B,) = V_winner (0 if unsold)."""

    winner: torch.Tensor
    payments: torch.Tensor
    revenue: torch.Tensor
    welfare: torch.Tensor


def _best_other(x: torch.Tensor, winner: torch.Tensor) -> torch.Tensor:
    """max_{k != winner} x_k per row (-inf with one bidder)."""
    if x.shape[1] == 1:
        return torch.full_like(x[:, 0], float("-inf"))
    return x.scatter(1, winner.unsqueeze(1), float("-inf")).amax(dim=1)


@torch.no_grad()
def bundle_myerson(bundle_values: torch.Tensor, reserves: torch.Tensor, rule: str = "shifted") -> BundleMyersonOutcome:
    """Sell the grand bundle only, by the rule ``rule`` with per-bidder reserves (module docstring).

    Args:
        bundle_values: V (B, n), the bids for the grand bundle.
        reserves: r (n,).
        rule: ``"shifted"`` (the grand-bundle VVCA), ``"eager"`` or ``"lazy"``.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    v = bundle_values
    r = torch.as_tensor(reserves, dtype=v.dtype, device=v.device).reshape(1, -1)
    if r.shape[1] != v.shape[1]:
        raise ValueError(f"{r.shape[1]} reserves for {v.shape[1]} bidders")
    neg_inf = torch.tensor(float("-inf"), dtype=v.dtype, device=v.device)
    if rule == "shifted":
        shifted = v - r
        best, winner = shifted.max(dim=1)
        sold = best >= 0
        price = r[0, winner] + _best_other(shifted, winner).clamp_min(0.0)
    else:
        ranked = torch.where(v >= r, v, neg_inf) if rule == "eager" else v
        best, winner = ranked.max(dim=1)
        sold = v.gather(1, winner.unsqueeze(1)).squeeze(1) >= r[0, winner]
        price = torch.maximum(r[0, winner], _best_other(ranked, winner))
    winner = torch.where(sold, winner, torch.full_like(winner, -1))
    onehot = winner.unsqueeze(1) == torch.arange(v.shape[1], device=v.device)[None, :]
    payments = torch.where(onehot, price.unsqueeze(1), torch.zeros_like(v))
    welfare = (onehot.to(v.dtype) * v).sum(1)
    return BundleMyersonOutcome(winner, payments, payments.sum(1), welfare)
