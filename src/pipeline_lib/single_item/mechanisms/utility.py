"""Bidder utilities under a unilateral deviation: the one function the evaluator and every learner use
(docs/methods.md#single-item-evaluator).

Bidder i with value v_i, the others bidding truthfully v_-i, reporting b' gets

    u_i(b'; v) = a_i(b', v_-i) v_i - p_i(b', v_-i),

and its ex-post regret is r_i(v) = max(0, sup_{b'} u_i(b'; v) - u_i(v_i; v)). A mechanism is any callable
``bids (B, n) -> (alloc (B, n), pay (B, n))``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Tensor = torch.Tensor
MechanismFn = Callable[[Tensor], tuple[Tensor, Tensor]]


def own_outcomes(
    mech: MechanismFn, values: Tensor, misreports: Tensor, bidders: Sequence[int] | None = None
) -> tuple[Tensor, Tensor]:
    """a_i(b', v_-i) and p_i(b', v_-i) for misreports (B, m, K) of the m ``bidders`` (all n when None): bidder i
    alone deviates, to each of its K misreports; both returned as (B, m, K). One mechanism call on B m K profiles."""
    b, n = values.shape
    idx = torch.arange(n, device=values.device) if bidders is None else torch.as_tensor(bidders, device=values.device)
    m, k = idx.numel(), misreports.shape[-1]
    eye = torch.eye(n, dtype=values.dtype, device=values.device)[idx][None, :, None, :]  # (1, i, 1, j)
    bids = values[:, None, None, :] * (1.0 - eye) + misreports[..., None] * eye  # (B, i, K, j)
    alloc, pay = mech(bids.reshape(-1, n))
    own = idx[None, :, None, None].expand(b, m, k, 1)
    return alloc.reshape(b, m, k, n).gather(3, own)[..., 0], pay.reshape(b, m, k, n).gather(3, own)[..., 0]


def deviation_utilities(
    mech: MechanismFn, values: Tensor, misreports: Tensor, bidders: Sequence[int] | None = None
) -> Tensor:
    """u_i(b'; v) = a_i(b', v_-i) v_i - p_i(b', v_-i) for misreports (B, m, K) of the m ``bidders`` (all n when
    None); shape (B, m, K). Differentiable in the mechanism's parameters and in the misreports."""
    a, p = own_outcomes(mech, values, misreports, bidders)
    idx = slice(None) if bidders is None else list(bidders)
    return a * values[:, idx, None] - p
