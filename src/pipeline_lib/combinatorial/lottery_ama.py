"""Lottery AMA (Curry, Sandholm and Dickerson, IJCAI 2023): an affine maximizer whose whole menu is learned.

Parameters (docs/methods.md#lottery-ama; Curry, Sandholm and Dickerson, IJCAI 2023):

* s menu entries, each a lottery allocation x_k (n, m) with x_kij = softmax over the n bidders and "nobody" of the
  logits theta_k[:, j] (so x_kij >= 0 and sum_i x_kij <= 1);
* bidder weights w_i = exp(alpha_i) (alpha = 0 at initialisation, i.e. w = 1);
* one boost lambda_k per entry (0 at initialisation);
* the empty allocation with boost 0, appended as entry s + 1 (it makes the mechanism IR).

The mechanism is the AMA of :mod:`.affine_maximizer`: allocation Eq. 1 (argmax of the affine welfare
sum_i w_i v_i(x_k) + lambda_k over the menu) and payments Eq. 2. It is trained on the softmax relaxation and
evaluated with the hard argmax (:mod:`pipeline_lib.combinatorial.menus`).
"""

from __future__ import annotations

import torch
from torch import nn

from .affine_maximizer import Menu, with_empty_allocation


class LotteryAMA(nn.Module):
    """A learnable menu of ``menu_size`` lottery allocations for n bidders and m items (plus the empty one)."""

    def __init__(self, n: int, m: int, menu_size: int, *, init_scale: float = 1.0) -> None:
        super().__init__()
        if min(n, m, menu_size) < 1:
            raise ValueError(f"n, m and menu_size must be positive, got {n}, {m}, {menu_size}")
        self.n, self.m, self.menu_size = n, m, menu_size
        # logits over the n bidders and "nobody" (last row) for every entry and item
        self.logits = nn.Parameter(init_scale * torch.randn(menu_size, n + 1, m))
        self.alpha = nn.Parameter(torch.zeros(n))
        self.boosts = nn.Parameter(torch.zeros(menu_size))

    def menu(self) -> Menu:
        """The full menu (s + 1 entries; the last is the empty allocation with boost 0)."""
        lotteries = torch.softmax(self.logits, dim=1)[:, : self.n, :]
        allocs, boosts = with_empty_allocation(lotteries, self.boosts)
        return Menu(allocs, self.alpha.exp(), boosts)

    def extra_repr(self) -> str:
        return f"n={self.n}, m={self.m}, menu_size={self.menu_size}"
