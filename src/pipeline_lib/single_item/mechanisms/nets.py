"""The neural single-item mechanism of the report (docs/methods.md#two-phase-net).

    h = MLP(b / s)            shared trunk Linear(n, 64) ReLU Linear(64, 32) ReLU Linear(32, 16) ReLU
    (a_1..a_n, a_0) = softmax(W_a h + c_a)    allocation over the n bidders plus a "no sale" output a_0
    rho_i = sigmoid(W_p h + c_p)_i            payment fraction in (0, 1)
    p_i = rho_i b_i a_i                       so p_i <= a_i b_i: ex-post IR under truthful bidding by construction.

``payment_head`` chooses how the fraction rho_i is computed:
``fraction`` (the report's, this class's default) rho_i = sigmoid(z_i) with z = W_p h + c_p; the two price heads (of
RegretNet, docs/methods.md#regretnet; ``critical`` is its default) output a price level q_i and charge it, capped
at the bid:

    rho_i = min(1, q_i / b_i),   p_i = rho_i b_i a_i = min(b_i, q_i) a_i,

``price``:    q_i = s softplus(z_i) from the shared trunk;
``critical``: q_i = s softplus(g_i(b_{-i} / s)), g_i a separate MLP (widths ``price_hidden``) of the OTHER bids only.

Still p = rho b a with rho in [0, 1], hence IR by construction. Why: in a DSIC auction the winner pays its critical
bid t_i, which does not depend on its own bid (Myerson 1981). With the sigmoid the network must produce
rho_i = t_i / b_i, a function of the own bid from 1 down to t / U, and its approximation error along the own bid
(measured about +-1% of t after distillation, exponential family) is payment variation a high bidder exploits. The
price head's target q_i = t_i is flat in b_i, but the trunk still lets q_i move with it (+-0.8% of t after
distillation); the critical head's q_i cannot move with b_i at all, so its payment rule is a threshold rule and what
regret is left comes from the allocation alone (soft shares, a win region other than {b_i > q_i}). The cap is a hard
min: a smoothed one (1 - softplus_beta(1 - q / b)) charges q (1 - log 2 / beta) to a bidder bidding its own price
level, and every winner then gains by underbidding to it (measured: a critical-head start distilled from Myerson,
exponential family, regret 1.6e-3 with beta = 50, 6e-6 with the hard min).

``s`` is a fixed input scale (a buffer, e.g. the mean training value) so that exponential values near 10 do not
saturate the trunk; it is part of the mechanism and saved with its weights. The "no sale" output lets the network
learn a reserve price, which the report's n-way softmax could not (docs/methods.md#report-defects, D7).

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
CRITICAL_HIDDEN = (64, 64)  # widths of the critical head's per-bidder price MLPs g_i


class SingleItemNet(nn.Module):
    """MLP mechanism with an allocation head (n + 1 outputs) and a payment-fraction head (n outputs)."""

    def __init__(
        self,
        n_bidders: int,
        hidden: Sequence[int] = (64, 32, 16),
        input_scale: float = 1.0,
        payment_head: str = "fraction",
        price_hidden: Sequence[int] = CRITICAL_HIDDEN,
    ) -> None:
        super().__init__()
        if n_bidders < 1:
            raise ValueError("need at least one bidder")
        if payment_head not in PAYMENT_HEADS:
            raise ValueError(f"payment_head must be one of {PAYMENT_HEADS}, got {payment_head!r}")
        self.payment_head = payment_head
        self.n_bidders = int(n_bidders)
        self.hidden = tuple(int(h) for h in hidden)
        self.price_hidden = tuple(int(h) for h in price_hidden)
        layers, width = _relu_layers(self.n_bidders, self.hidden)
        self.trunk = nn.Sequential(*layers)
        self.alloc_head = nn.Linear(width, self.n_bidders + 1)
        if payment_head == "critical":  # g_i(b_{-i}): one MLP per bidder on the other bids
            width_others = max(self.n_bidders - 1, 1)
            self.price_nets = nn.ModuleList(_mlp(width_others, self.price_hidden, 1) for _ in range(self.n_bidders))
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
        return capped_fraction(self.prices(h, bids), bids)

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
            "price_hidden": list(self.price_hidden),
        }


def capped_fraction(q: Tensor, bids: Tensor) -> Tensor:
    """rho = min(1, q / b) of a price level ``q``, written q / max(b, q): no division by a vanishing bid, so no
    0 * inf in the gradient at b ~ 0."""
    return q / torch.maximum(bids, q).clamp_min(torch.finfo(bids.dtype).tiny)


def _relu_layers(width: int, hidden: Sequence[int]) -> tuple[list[nn.Module], int]:
    """Linear-ReLU layers of widths ``hidden`` from ``width`` inputs, and the width they end with."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return layers, width


def _mlp(width: int, hidden: Sequence[int], out: int) -> nn.Sequential:
    """:func:`_relu_layers`, then a linear layer of ``out`` outputs."""
    layers, width = _relu_layers(width, hidden)
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

    def with_dtype(self, dtype: torch.dtype) -> AsMechanism:
        """The same mechanism in ``dtype`` (the evaluator screens its grid in float32)."""
        return AsMechanism(self.net, hard=self.hard, dtype=dtype)

    def deviation_outcomes(self, values: Tensor, bidder: Tensor, misreports: Tensor) -> tuple[Tensor, Tensor]:
        """a_i(b', v_-i) and p_i(b', v_-i), (R, K), of row r's bidder i = ``bidder[r]`` reporting ``misreports``
        (R, K) against ``values`` (R, n) (docs/methods.md#evaluator-shortcuts): the evaluator's unilateral
        deviations. Bidder i's own outputs only, and under the ``critical`` head its price level
        q_i = s softplus(g_i(v_-i / s)) once per row, since it does not depend on b'; the same numbers as
        ``self(bids)`` on the deviated profiles."""
        r, n = values.shape
        k = misreports.shape[1]
        col = bidder[:, None, None].expand(r, k, 1)
        bids = values[:, None, :].expand(r, k, n).scatter(2, col, misreports[..., None]).reshape(-1, n)
        net = self.net
        h = bids / net.input_scale
        for layer in net.trunk:  # Linear, then ReLU in place (no autograd graph keeps its input)
            h = layer(h) if isinstance(layer, nn.Linear) or torch.is_grad_enabled() else h.relu_()
        logits = net.alloc_head(h)
        if self.hard:  # the argmax of the logits is the argmax of the softmax
            alloc = (logits.argmax(dim=-1).reshape(r, k) == bidder[:, None]).to(values.dtype)
        else:
            alloc = torch.softmax(logits, dim=-1).reshape(r, k, -1).gather(2, col)[..., 0]
        if net.payment_head == "critical":
            scaled = values / net.input_scale
            z = torch.stack([g(_others(scaled, i))[:, 0] for i, g in enumerate(net.price_nets)], dim=1)
            q = (net.input_scale * nn.functional.softplus(z)).gather(1, bidder[:, None]).expand(r, k)
            rho = capped_fraction(q, misreports)
        else:
            rho = net.fractions(h, bids).reshape(r, k, n).gather(2, col)[..., 0]
        return alloc, rho * misreports * alloc


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
