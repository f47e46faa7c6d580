"""The neural single-item mechanism of the report (spec Part A item 2).

    h = MLP(b / s)            shared trunk Linear(n, 64) ReLU Linear(64, 32) ReLU Linear(32, 16) ReLU
    (a_1..a_n, a_0) = softmax(W_a h + c_a)    allocation over the n bidders plus a "no sale" output a_0
    rho_i = sigmoid(W_p h + c_p)_i            payment fraction in (0, 1)
    p_i = rho_i b_i a_i                       so p_i <= a_i b_i: ex-post IR under truthful bidding by construction.

``payment_head`` chooses how the fraction is computed from the same head output z = W_p h + c_p:
``fraction`` (the report's, the default) rho_i = sigmoid(z_i); ``price`` (an option of RegretNet, spec beyond.md 3)

    q_i = s softplus(z_i),   rho_i = smin(1, q_i / b_i),   smin(1, x) = 1 - softplus_beta(1 - x) in [0, 1],

so the network outputs a price level q_i and p_i = rho_i b_i a_i = smin(b_i, q_i) a_i (up to the smoothing,
beta = PRICE_SHARPNESS). Still p = rho b a with rho in [0, 1], hence IR by construction. Why: in a DSIC auction the
winner pays its critical bid, which does not depend on its own bid (Myerson 1981). With the sigmoid the network must
produce rho_i = t_i / b_i, a function of the own bid from 1 down to t / U, and its approximation error along the own
bid (measured about +-1% of t after distillation, exponential family) is payment variation a high bidder exploits;
with the price head the target q_i = t_i is flat in b_i (measured +-0.8% and half the start's regret, 2.7e-3
against 5.3e-3). ``critical`` goes one step further: q_i = s softplus(g_i(b_{-i} / s)) is computed by a separate MLP
g_i (hidden widths as the trunk's) that sees only the OTHER bids, so each bidder's price is exactly flat in its own
bid, as a DSIC critical bid is; the same smin then gives rho_i. The payment rule is then a threshold rule, and what
regret is left comes from the allocation alone (soft shares, a win region that is not {b_i > q_i}), which RegretNet's
Lagrangian removes.

``s`` is a fixed input scale (a buffer, e.g. the mean training value) so that exponential values near 10 do not
saturate the trunk; it is part of the mechanism and saved with its weights. The "no sale" output lets the network
learn a reserve price, which the report's n-way softmax could not (spec Part B section 1.5, defect D7).

``hard=True`` gives the deployed variant: the argmax of the n + 1 allocation outputs wins outright.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

Tensor = torch.Tensor


PAYMENT_HEADS = ("fraction", "price", "critical")
PRICE_SHARPNESS = 50.0  # beta of smin(1, x): smin(1, 1) = 1 - log(2) / beta


class SingleItemNet(nn.Module):
    """MLP mechanism with an allocation head (n + 1 outputs) and a payment-fraction head (n outputs)."""

    def __init__(
        self,
        n_bidders: int,
        hidden: Sequence[int] = (64, 32, 16),
        input_scale: float = 1.0,
        payment_head: str = "fraction",
    ) -> None:
        super().__init__()
        if n_bidders < 1:
            raise ValueError("need at least one bidder")
        if payment_head not in PAYMENT_HEADS:
            raise ValueError(f"payment_head must be one of {PAYMENT_HEADS}, got {payment_head!r}")
        self.payment_head = payment_head
        self.n_bidders = int(n_bidders)
        self.hidden = tuple(int(h) for h in hidden)
        layers: list[nn.Module] = []
        width = self.n_bidders
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.trunk = nn.Sequential(*layers)
        self.alloc_head = nn.Linear(width, self.n_bidders + 1)
        if payment_head == "critical":  # g_i(b_{-i}): one MLP per bidder on the other bids
            width_others = max(self.n_bidders - 1, 1)
            self.price_nets = nn.ModuleList(_mlp(width_others, self.hidden, 1) for _ in range(self.n_bidders))
        else:
            self.pay_head = nn.Linear(width, self.n_bidders)
        self.register_buffer("input_scale", torch.tensor(float(input_scale)))

    def outputs(self, bids: Tensor) -> tuple[Tensor, Tensor]:
        """Allocation probabilities over n bidders + no sale, shape (B, n + 1), and payment fractions (B, n)."""
        h = self.trunk(bids / self.input_scale)
        return torch.softmax(self.alloc_head(h), dim=-1), self.fractions(h, bids)

    def prices(self, h: Tensor, bids: Tensor) -> Tensor:
        """Price levels q (B, n) of the ``price`` head (from trunk features ``h``) or the ``critical`` head (from
        the other bids of ``bids``)."""
        if self.payment_head == "price":
            z = self.pay_head(h)
        elif self.payment_head == "critical":
            scaled = bids / self.input_scale
            z = torch.cat([g(_others(scaled, i)) for i, g in enumerate(self.price_nets)], dim=-1)
        else:
            raise ValueError(f"prices() needs a price or critical payment head, this network has {self.payment_head!r}")
        return self.input_scale * nn.functional.softplus(z)

    def fractions(self, h: Tensor, bids: Tensor) -> Tensor:
        """Payment fractions rho (B, n) in [0, 1] from trunk features ``h`` (module docstring)."""
        if self.payment_head == "fraction":
            return torch.sigmoid(self.pay_head(h))
        x = self.prices(h, bids) / bids.clamp_min(torch.finfo(bids.dtype).tiny)
        return (1.0 - nn.functional.softplus(1.0 - x, beta=PRICE_SHARPNESS)).clamp(0.0, 1.0)

    def forward(self, bids: Tensor, hard: bool = False) -> tuple[Tensor, Tensor]:
        """(a, p) with a_i the winning probability of bidder i and p_i = rho_i b_i a_i."""
        probs, rho = self.outputs(bids)
        if hard:
            probs = nn.functional.one_hot(probs.argmax(dim=-1), self.n_bidders + 1).to(bids.dtype)
        alloc = probs[..., : self.n_bidders]
        return alloc, rho * bids * alloc

    def config(self) -> dict[str, Any]:
        """Constructor arguments, saved next to the weights."""
        return {
            "n_bidders": self.n_bidders,
            "hidden": list(self.hidden),
            "input_scale": float(self.input_scale),
            "payment_head": self.payment_head,
        }


def _mlp(width: int, hidden: Sequence[int], out: int) -> nn.Sequential:
    """Linear-ReLU layers of widths ``hidden`` from ``width`` inputs, then a linear layer of ``out`` outputs."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, out))


def _others(bids: Tensor, i: int) -> Tensor:
    """``bids`` (B, n) without column ``i``: (B, n - 1); one zero column for a lone bidder (a posted price)."""
    if bids.shape[-1] == 1:
        return torch.zeros_like(bids)
    return torch.cat([bids[..., :i], bids[..., i + 1 :]], dim=-1)


class AsMechanism:
    """Wrap a network as an evaluator mechanism: eval mode, frozen weights, any dtype (float64 at test time)."""

    def __init__(self, net: SingleItemNet, hard: bool = False, dtype: torch.dtype = torch.float64) -> None:
        self.net = copy.deepcopy(net).to(dtype).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.hard = hard
        self.differentiable = not hard
        self.name = "learned_hard" if hard else "learned"
        self.params: dict[str, Any] = {}

    def __call__(self, bids: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(bids, hard=self.hard)


def model_payload(net: SingleItemNet, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a saved network holds: {config, state_dict, extra} (plain tensors, numbers and strings)."""
    return {"config": net.config(), "state_dict": net.state_dict(), "extra": extra or {}}


def model_from_payload(
    blob: dict[str, Any], map_location: str | torch.device = "cpu"
) -> tuple[SingleItemNet, dict[str, Any]]:
    """Inverse of :func:`model_payload`: the network (float32, on ``map_location``) and the extra payload."""
    net = SingleItemNet(**blob["config"])
    net.load_state_dict(blob["state_dict"])
    return net.to(map_location), blob.get("extra", {})
