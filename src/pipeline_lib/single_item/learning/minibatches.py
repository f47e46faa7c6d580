"""Minibatches of value profiles for the learned single-item mechanisms.

With independent bidders the value distribution is the product of the bidders' marginals, so a profile whose
columns are drawn independently from the training split's columns is a draw from the product of the empirical
marginals: N^n distinct profiles instead of the N the split holds. Training on those does not over-fit the N
profiles (measured, quick tier: RegretNet's Lagrangian phase on 4000 uniform profiles reached train revenue 0.597
but test 0.578). For correlated values (the latent family) the columns must stay together: rows only.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def resampled_profiles(values: Tensor, size: int, gen: torch.Generator) -> Tensor:
    """``size`` profiles whose bidder columns are drawn independently, with replacement, from the columns of
    ``values`` (N, n): a sample of the product of the empirical marginals."""
    n_rows, n = values.shape
    rows = torch.randint(0, n_rows, (size, n), generator=gen)
    return values[rows, torch.arange(n)[None, :]]


def minibatch(values: Tensor, idx: Tensor, gen: torch.Generator, resample_bidders: bool) -> Tensor:
    """Rows ``idx`` of ``values``, or (``resample_bidders``) as many column-resampled profiles."""
    return resampled_profiles(values, len(idx), gen) if resample_bidders else values[idx]


def check_batch_size(batch_size: int, n_rows: int, key: str) -> None:
    """A minibatch is drawn from the training split: refuse one larger than the split, naming the config key and
    both sizes (a silently smaller batch would be recorded as the configured one)."""
    if int(batch_size) > int(n_rows):
        raise ValueError(f"{key} = {int(batch_size)} is larger than the training split ({int(n_rows)} profiles)")
