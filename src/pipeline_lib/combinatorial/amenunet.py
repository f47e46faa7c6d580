"""AMenuNet (Duan, Sun, Chen and Deng, NeurIPS 2023): a transformer that outputs the whole AMA menu.

Architecture (docs/methods.md#amenunet; Duan et al., NeurIPS 2023; non-contextual variant, as for our i.i.d. settings):

1. Representations: a learned embedding e_i for every bidder i = 1..n plus a dummy bidder n+1 ("nobody"), and
   f_j for every item j. Cell (i, j) of the (n+1) x m grid gets h_ij = MLP([e_i, f_j]) (d_hidden).
2. :class:`Transformer2D`: L layers; each applies a transformer encoder layer along the items of every bidder
   (row), one along the bidders of every item (column), and the mean over all cells (global), concatenates
   the three and maps them through an MLP. The last layer outputs 2s + 1 channels per cell.
3. Heads, for menu size s:
   * allocations: channels 1..s; x_kij = softmax over the n + 1 bidders of (alloc_temperature * logit_kij),
     dummy row dropped (so sum_i x_kij <= 1);
   * boosts: channels s+1..2s averaged over all cells, then an MLP s -> s -> s gives lambda_1..lambda_s;
   * weights: the last channel averaged over the items, w_i = sigmoid(.) in (0, 1), dummy dropped.
4. The empty allocation with boost 0 is appended (entry s + 1).

No positional encoding is used, so the network is permutation-equivariant: permuting the bidder (item)
embeddings permutes the bidder (item) axis of the menu and leaves the boosts unchanged. Without contexts the
input is the same for every profile, so the menu is computed once per call and shared by the whole batch.
The mechanism is the AMA of :mod:`.affine_maximizer` (allocation Eq. 1, payments Eq. 2).
"""

from __future__ import annotations

import torch
from torch import nn

from .affine_maximizer import Menu, with_empty_allocation


class Transformer2D(nn.Module):
    """Row / column / global transformer over a (batch, rows, cols, d) grid (AMenuNet's mechanism body)."""

    def __init__(self, d_input: int, d_output: int, n_layer: int, n_head: int, d_hidden: int) -> None:
        super().__init__()
        self.rows, self.cols, self.mixers = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        d_in = d_input
        for layer in range(n_layer):
            d_out = d_output if layer == n_layer - 1 else d_hidden
            for stack in (self.rows, self.cols):
                stack.append(
                    nn.TransformerEncoderLayer(d_in, n_head, dim_feedforward=d_hidden, dropout=0.0, batch_first=True)
                )
            self.mixers.append(nn.Sequential(nn.Linear(3 * d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out)))
            d_in = d_hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n_rows, n_cols, _ = x.shape
        for row_layer, col_layer, mixer in zip(self.rows, self.cols, self.mixers, strict=True):
            d = x.shape[-1]
            row = row_layer(x.reshape(batch * n_rows, n_cols, d)).reshape(batch, n_rows, n_cols, d)
            col_in = x.transpose(1, 2).reshape(batch * n_cols, n_rows, d)
            col = col_layer(col_in).reshape(batch, n_cols, n_rows, d).transpose(1, 2)
            glob = x.mean(dim=(1, 2), keepdim=True).expand(-1, n_rows, n_cols, -1)
            x = mixer(torch.cat([row, col, glob], dim=-1))
        return x


class AMenuNet(nn.Module):
    """Non-contextual AMenuNet for n bidders, m items and menu size s (defaults: the paper's d_emb 10, 3 layers,
    4 heads, d_hidden 64)."""

    def __init__(
        self,
        n: int,
        m: int,
        menu_size: int,
        *,
        d_emb: int = 10,
        n_layer: int = 3,
        n_head: int = 4,
        d_hidden: int = 64,
        alloc_temperature: float = 10.0,
    ) -> None:
        super().__init__()
        if min(n, m, menu_size, n_layer) < 1:
            raise ValueError(f"n, m, menu_size and n_layer must be positive, got {n}, {m}, {menu_size}, {n_layer}")
        self.n, self.m, self.menu_size = n, m, menu_size
        self.alloc_temperature = float(alloc_temperature)
        self.bidder_embedding = nn.Embedding(n + 1, d_emb)  # row n is the dummy bidder ("nobody")
        self.item_embedding = nn.Embedding(m, d_emb)
        self.pre_net = nn.Sequential(nn.Linear(2 * d_emb, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_hidden))
        self.body = Transformer2D(d_hidden, 2 * menu_size + 1, n_layer, n_head, d_hidden)
        self.boost_net = nn.Sequential(nn.Linear(menu_size, menu_size), nn.ReLU(), nn.Linear(menu_size, menu_size))

    def grid(self) -> torch.Tensor:
        """Cell inputs [e_i, f_j] of the (n+1) x m grid, shape (1, n+1, m, 2 d_emb)."""
        bidders = self.bidder_embedding.weight[:, None, :].expand(-1, self.m, -1)
        items = self.item_embedding.weight[None, :, :].expand(self.n + 1, -1, -1)
        return torch.cat([bidders, items], dim=-1).unsqueeze(0)

    def menu(self) -> Menu:
        """The full menu (s + 1 entries; the last is the empty allocation with boost 0)."""
        s = self.menu_size
        out = self.body(self.pre_net(self.grid()))[0]  # (n+1, m, 2s+1)
        logits = out[..., :s].permute(2, 0, 1)  # (s, n+1, m)
        lotteries = torch.softmax(self.alloc_temperature * logits, dim=1)[:, : self.n, :]
        boosts = self.boost_net(out[..., s : 2 * s].mean(dim=(0, 1)))
        weights = torch.sigmoid(out[: self.n, :, -1].mean(dim=1))
        allocs, boosts = with_empty_allocation(lotteries, boosts)
        return Menu(allocs, weights, boosts)

    def extra_repr(self) -> str:
        return f"n={self.n}, m={self.m}, menu_size={self.menu_size}, alloc_temperature={self.alloc_temperature}"
