"""BBBVVCA: bidder-bundle boosting of VVCA parameters under fixed allocations (APPROXIMATE re-implementation).

Sandholm and Likhodedov (2015) optimise the VVCA parameters by gradient steps that hold the winning allocation
fixed. Their internals are not available (docs/methods.md#bbbvvca), so this is a
re-implementation of the paper's one-line description and is labelled *approximate* in every output.

Per iteration, with A* and every A^(-i) computed under the current parameters theta and then frozen:

* the revenue loss of bidder-bundle pair (i, S) is the surplus left to bidder i on the profiles where it wins S,
  averaged over those profiles:  L_{i,S} = mean_{b : A*_i(b) = S} [ b_i(S) - p_i(b; theta) ],
  with p_i the VVCA payment of Eq. 2 evaluated at the frozen allocations (so it is differentiable in theta);
* the update descends the sum of these per-pair losses, L = sum_{(i,S) observed} L_{i,S}, i.e. it ascends
  J(theta) = sum_{(i,S)} mean_{b in class (i,S)} p_i(b; theta)  (b_i(S) is a constant),
  which is revenue ascent with every bidder-bundle class weighted equally instead of by its frequency.

Because the allocations are frozen, the effect of theta on *who wins what* is ignored: exactly the blind spot
the ZFO-VVCA paper attributes to BBBVVCA.
"""

from __future__ import annotations

import torch

from pipeline_lib.vvca.mechanism import VVCAOutcome, VVCAParams, payments_from_allocations


def class_weights(alloc: torch.Tensor, num_bundles: int) -> torch.Tensor:
    """1 / |class(i, A*_i)| for every (profile, bidder): the per-bidder-bundle normalisation (B, n).

    The class of (b, i) is the pair (i, A*_i(b)); its size is the number of profiles in the batch where bidder i
    wins exactly that bundle.
    """
    batch, n = alloc.shape
    key = torch.arange(n, device=alloc.device) * num_bundles + alloc  # (B, n)
    counts = torch.bincount(key.reshape(-1), minlength=n * num_bundles)
    return 1.0 / counts[key].to(torch.get_default_dtype())


def bbb_objective(bids: torch.Tensor, params: VVCAParams, outcome: VVCAOutcome) -> torch.Tensor:
    """J(theta) = sum over observed bidder-bundle classes of the class-mean payment at frozen allocations.

    Its gradient (autograd through :func:`payments_from_allocations`) is minus the gradient of the summed
    per-bidder-bundle revenue losses L_{i,S}; allocations A*, A^(-i) are those of ``outcome`` (held fixed).
    """
    payments, _, _ = payments_from_allocations(bids, params, outcome.alloc, outcome.alloc_minus)
    weights = class_weights(outcome.alloc, bids.shape[-1]).to(payments.dtype)
    return (payments * weights).sum()
