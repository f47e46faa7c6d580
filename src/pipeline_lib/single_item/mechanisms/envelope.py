"""A softmax allocation over monotone piecewise-linear scores, priced exactly by Myerson's payment identity.

Myerson (1981, Lemma 2 / the envelope theorem): an allocation x_i(b_i, b_-i) that is non-decreasing in the own bid,
with payments

    p_i(b) = b_i x_i(b) - int_0^{b_i} x_i(z, b_-i) dz,                                                    (1)

is dominant-strategy IC, and ex-post IR (a truthful bidder's utility is the integral, >= 0). The allocation here
is a softmax over scores r_i = g_i(b_i) and a "no sale" dummy of score 0 at temperature T,

    x_i(b) = exp(r_i / T) / (1 + sum_j exp(r_j / T)) = sigma(g_i(b_i) / T - L_i),
    L_i = log(1 + sum_{j != i} exp(r_j / T)),                                                             (2)

non-decreasing in b_i whenever g_i is. For g_i piecewise linear, a z + c (a > 0) on a segment [z0, z1],

    int_{z0}^{z1} sigma((a z + c) / T - L) dz = (T / a) [softplus((a z1 + c) / T - L) - softplus((a z0 + c) / T - L)],

so (1) is exact: no quadrature, the mechanism is DSIC up to floating-point rounding. Unlike an argmax over strictly
increasing scores, equal scores split the item, so a score flat on an interval irons it (Myerson's ironing:
bidders whose values fall in one ironing interval are treated alike).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def _softplus(u: Tensor) -> Tensor:
    """log(1 + e^u) to full precision (torch's softplus returns u itself above u = 20, off by up to 2e-9)."""
    return -torch.nn.functional.logsigmoid(-u)


def softmax_allocation(scores: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """(x, L) of (2) for scores (B, n): the allocation and each bidder's log-denominator without its own term."""
    n = scores.shape[1]
    logits = torch.cat([scores / temperature, torch.zeros_like(scores[:, :1])], dim=1)
    alloc = torch.softmax(logits, dim=1)[:, :n]
    own = torch.eye(n + 1, dtype=torch.bool, device=scores.device)[:n]  # (n, n + 1): bidder i's own logit
    others = torch.logsumexp(logits[:, None, :].masked_fill(own, float("-inf")), dim=-1)
    return alloc, others


def segment_integrals(
    bids: Tensor, others: Tensor, knots: Tensor, slopes: Tensor, intercepts: Tensor, temperature: float
) -> Tensor:
    """int_0^{b_i} sigma(g_i(z) / T - L_i) dz for bids (B, n), L (B, n); g_i = slopes[i, s] z + intercepts[i, s] on
    [knots[i, s], knots[i, s + 1]] with knots (n, S + 1) from 0 to at least max b (zero-length padding allowed);
    knots, slopes and intercepts of shape (B, n, .) give each row its own g.
    Each segment is clipped to [0, b_i] and integrated in closed form; where the argument u of sigma moves by
    du <= 1 along it, the softplus difference is written log1p(sigma(u0) expm1(du)), which does not cancel."""
    lo = torch.minimum(knots[..., :-1], bids[..., None])
    hi = torch.minimum(knots[..., 1:], bids[..., None])
    shift = others[..., None]
    u0 = (slopes * lo + intercepts) / temperature - shift
    u1 = (slopes * hi + intercepts) / temperature - shift
    du = u1 - u0  # >= 0: slopes > 0, hi >= lo
    steep = (temperature / slopes) * (_softplus(u1) - _softplus(u0))
    # softplus(u1) - softplus(u0) = log1p(sigma(u0) expm1(du)): no cancellation where du is small
    gentle_du = du.clamp(max=1.0)
    gentle = (hi - lo) * torch.log1p(torch.sigmoid(u0) * torch.expm1(gentle_du))
    gentle = gentle / gentle_du.clamp_min(torch.finfo(bids.dtype).tiny)
    flat = (hi - lo) * torch.sigmoid(u0)  # du == 0 (a slope below the floating-point resolution)
    return torch.where(du > 1.0, steep, torch.where(du > 0, gentle, flat)).sum(dim=-1)


def envelope_mechanism(
    bids: Tensor, scores: Tensor, knots: Tensor, slopes: Tensor, intercepts: Tensor, temperature: float
) -> tuple[Tensor, Tensor]:
    """(x, p): the softmax allocation (2) of ``scores`` = g(bids) and the payments (1), for the piecewise-linear
    g_i given by ``knots``, ``slopes``, ``intercepts`` (see :func:`segment_integrals`)."""
    alloc, others = softmax_allocation(scores, temperature)
    integral = segment_integrals(bids, others, knots, slopes, intercepts, temperature)
    return alloc, bids * alloc - integral
