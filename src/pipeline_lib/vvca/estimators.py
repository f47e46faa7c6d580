"""Ascent directions of ZFO-VVCA, FO-VVCA and BBBVVCA on one minibatch (Eq. 5, 8, 9 of the paper).

On a minibatch D_t the empirical revenue splits as (Eq. 5) Rev = Rev1 + Rev2, Rev1 = sum_i (1/w_i) [MAW^(-i) -
MAW], Rev2 = sum_i b_i(A*_i). ``zfo_vvca`` ascends grad Rev1 (Danskin, exact) + the Gaussian-smoothing estimate
of grad Rev2_sigma (Eq. 9); ``fo_vvca`` ascends grad Rev1 only; ``bbbvvca`` the fixed-allocation direction of
:mod:`pipeline_lib.vvca.bbb` (approximate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from pipeline_lib.vvca.bbb import bbb_objective
from pipeline_lib.vvca.config import ESTIMATORS, ZEROTH_ORDER
from pipeline_lib.vvca.mechanism import evaluate_vvca, rev1_surrogate, rev2_batched
from pipeline_lib.vvca.parametrisation import Parametrisation


def smoothing_gradient(
    rev2_of: Callable[[torch.Tensor], torch.Tensor],
    phi: torch.Tensor,
    directions: torch.Tensor,
    sigma: float,
    base: torch.Tensor | None = None,
    estimator: str = "forward",
) -> torch.Tensor:
    """Eq. 9 for any mechanism family: the Gaussian-smoothing estimate of grad Rev2_sigma at phi from q directions
    (q, d), where ``rev2_of(phis)`` maps parameter vectors (r, d) to their batch-mean Rev2 (r,) on one minibatch.

    forward: (1/q) sum_j [Rev2(phi + sigma u_j) - base] / sigma u_j with base = Rev2(phi) (shared base point);
    central: (1/q) sum_j [Rev2(phi + sigma u_j) - Rev2(phi - sigma u_j)] / (2 sigma) u_j.
    """
    q = directions.shape[0]
    phi = phi.detach()
    if estimator == "forward":
        if base is None:
            base = rev2_of(phi.unsqueeze(0))[0]
        diffs = (rev2_of(phi + sigma * directions) - base) / sigma
    elif estimator == "central":
        values = rev2_of(torch.cat([phi + sigma * directions, phi - sigma * directions]))
        diffs = (values[:q] - values[q:]) / (2 * sigma)
    else:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    return (diffs.to(directions.dtype) @ directions) / q


def zeroth_order_rev2_gradient(
    bids: torch.Tensor,
    parametrisation: Parametrisation,
    phi: torch.Tensor,
    directions: torch.Tensor,
    sigma: float,
    base: torch.Tensor | None = None,
    estimator: str = "forward",
) -> torch.Tensor:
    """Eq. 9 for a VVCA (:func:`smoothing_gradient`): all evaluations use the same minibatch ``bids``; Rev2 is the
    batch mean of sum_i b_i(A*_i)."""

    def rev2_of(phis: torch.Tensor) -> torch.Tensor:
        return rev2_batched(bids, *parametrisation.batched(phis))

    return smoothing_gradient(rev2_of, phi, directions, sigma, base, estimator)


@dataclass
class StepResult:
    """Ascent direction and the minibatch statistics at the parameters before the update."""

    direction: torch.Tensor
    revenue: float
    rev1: float
    rev2: float


def ascent_direction(
    method: str,
    bids: torch.Tensor,
    parametrisation: Parametrisation,
    phi: torch.Tensor,
    directions: torch.Tensor | None = None,
    sigma: float = 0.01,
    estimator: str = "forward",
) -> StepResult:
    """The update direction g of ``method`` at phi on the minibatch ``bids`` (see the module docstring)."""
    params = parametrisation.params(phi)
    outcome = evaluate_vvca(bids, params)  # A*, A^(-i) and the revenue split, no grad (Algorithm 2)
    if method == "bbbvvca":
        objective = bbb_objective(bids, params, outcome)
    else:
        objective = rev1_surrogate(bids, params, outcome)  # Danskin gradient of Rev1
    (grad,) = torch.autograd.grad(objective, phi)
    rev2_base = outcome.rev2.mean()
    if method in ZEROTH_ORDER:
        if directions is None:
            raise ValueError("zfo_vvca needs the q random directions")
        grad = grad + zeroth_order_rev2_gradient(
            bids, parametrisation, phi, directions, sigma, base=rev2_base, estimator=estimator
        )
    return StepResult(grad, float(outcome.revenue.mean()), float(outcome.rev1.mean()), float(rev2_base))
