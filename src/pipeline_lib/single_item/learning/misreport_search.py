"""RegretNet's misreport search during training (docs/methods.md#regretnet; the search itself is described in
:mod:`pipeline_lib.single_item.learning.regretnet`'s docstring).

For bidder i of profile v with utility u_i(b; v) = a_i(b, v_-i) v_i - p_i(b, v_-i)
(:func:`pipeline_lib.single_item.mechanisms.utility.deviation_utilities`): R starting misreports screened from warm
starts, stratified grid points of [0, U] and the other bids +- eps U; projected gradient ascent on u_i from them; and
the per-bidder regret rgt_i = mean_v max(0, max_r u_i(m_ir; v) - u_i(v_i; v)) at the misreports found.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from pipeline_lib.single_item.mechanisms.nets import SingleItemNet
from pipeline_lib.single_item.mechanisms.utility import deviation_utilities

if TYPE_CHECKING:
    from pipeline_lib.single_item.learning.regretnet import RegretNetConfig

Tensor = torch.Tensor


def screened_starts(
    net: SingleItemNet, values: Tensor, bank: Tensor, cfg: RegretNetConfig, upper: float, gen: torch.Generator
) -> Tensor:
    """The R misreports of highest u_i among the warm starts ``bank`` (B, n, R), ``cfg.grid_misreports``
    stratified uniform points of [0, U] and (``cfg.tie_misreports``) the other bids +- ``tie_eps`` U; (B, n, R)."""
    b, n, r = bank.shape
    parts = [bank]
    if cfg.grid_misreports > 0:
        g = cfg.grid_misreports
        offset = torch.rand(b, n, g, generator=gen, dtype=values.dtype)
        parts.append((torch.arange(g, dtype=values.dtype)[None, None, :] + offset) * (upper / g))
    if cfg.tie_misreports and n > 1:
        off_diag = ~torch.eye(n, dtype=torch.bool)
        others = values[:, None, :].expand(b, n, n)[:, off_diag].reshape(b, n, n - 1)  # bidder i: v_j, j != i
        delta = cfg.tie_eps * upper
        parts += [others - delta, others + delta]
    candidates = torch.cat(parts, dim=2).clamp(0.0, upper)
    with torch.no_grad():
        utility = deviation_utilities(net, values, candidates)
    return candidates.gather(2, utility.topk(r, dim=2).indices)


def inner_search(
    net: SingleItemNet, values: Tensor, misreports: Tensor, steps: int, step_size: float, upper: float
) -> Tensor:
    """``steps`` steps of projected gradient ascent on each u_i from ``misreports`` (B, n, R); parameters get no
    gradient. Returns, per start, the best misreport seen on the path (detached): a step of a fixed size can
    overshoot on a sharp allocation and end below its start, so the last iterate alone would under-state regret
    (measured: training regret 0.007 against the evaluator's 0.017 on a near-hard network)."""
    m = misreports.detach().clone()
    best, best_u = m.clone(), torch.full_like(m, -math.inf)
    for step in range(steps + 1):
        m.requires_grad_(True)
        with torch.enable_grad():
            u = deviation_utilities(net, values, m)
            grad = torch.autograd.grad(u.sum(), m)[0] if step < steps else None
        m, u = m.detach(), u.detach()
        better = u > best_u
        best, best_u = torch.where(better, m, best), torch.where(better, u, best_u)
        if grad is not None:
            m = (m + step_size * grad).clamp_(0.0, upper)
    return best


def regret_per_bidder(net: SingleItemNet, values: Tensor, misreports: Tensor) -> tuple[Tensor, Tensor]:
    """(rgt (n,), revenue ()) on one minibatch: rgt_i = mean_v max(0, max_r u_i(m_ir; v) - u_i(v_i; v)),
    differentiable in the parameters at the given misreports."""
    alloc, pay = net(values)
    truthful = alloc * values - pay
    gain = deviation_utilities(net, values, misreports).amax(dim=2) - truthful
    return gain.clamp_min(0.0).mean(dim=0), pay.sum(dim=1).mean()
