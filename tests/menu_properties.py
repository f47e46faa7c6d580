"""Shared property check of menu mechanisms (Lottery AMA, AMenuNet): IR and DSIC at test time."""

from __future__ import annotations

import numpy as np
import torch

from pipeline_lib.combinatorial.affine_maximizer import Menu, hard_outcome


def assert_ir_and_dsic(
    menu: Menu, rng: np.random.Generator, n: int = 2, m: int = 2, profiles: int = 300, lies: int = 60
) -> None:
    """IR: 0 <= p_i <= v_i(x_i); DSIC: no random item-value misreport of any bidder raises its utility."""
    true = torch.tensor(rng.uniform(size=(profiles, n, m)))
    out = hard_outcome(true, menu)
    assert (out.payments >= -1e-12).all() and (out.payments <= out.values + 1e-12).all()
    utility = out.values - out.payments
    for i in range(n):
        for _ in range(lies):
            lie = true.clone()
            lie[:, i] = torch.tensor(rng.uniform(0, 1.5, size=(profiles, m)))
            o = hard_outcome(lie, menu)
            gain = (o.allocation[:, i] * true[:, i]).sum(-1) - o.payments[:, i]
            assert (gain <= utility[:, i] + 1e-12).all()
