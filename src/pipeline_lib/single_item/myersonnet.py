"""MyersonNet: an exactly DSIC learned single-item auction (Duetting, Feng, Narasimhan, Parkes, Ravindranath,
"Optimal Auctions through Deep Learning", ICML 2019 / JACM 2024, section on MyersonNet; spec beyond.md 4).

Each bidder i has a strictly increasing piecewise-linear "virtual value" map, a min over K groups of a max over J
affine functions with positive slopes:

    phibar_i(b) = min_k max_j (exp(w_ikj) b / s + beta_ikj),
    phibar_i^{-1}(y) = s * max_k min_j exp(-w_ikj) (y - beta_ikj),

(s a fixed input scale, the mean training value). A max of increasing affine maps is increasing and convex, a
min of those is increasing, and the stated formula is its exact inverse (min/max swap under an increasing map).
For i.i.d. bidders (``shared_map``, the pipeline's default there) every bidder uses one map: Myerson's auction has
one virtual value, and per-bidder maps learned from finite data differ and misallocate (measured, quick-tier hetero
on 200,000 fresh profiles: 98.73% of Myerson per bidder, 98.85% shared).

Limit (irregular priors): a strictly increasing map separates every two bids, so it cannot iron. Where Myerson
irons (hetero: an interval [0.856, 1.562]) the winner above the interval pays the interval's right end when the
runner-up lies inside it; here it pays the runner-up's bid. With one shared map the auction IS the second-price
auction with reserve phibar^{-1}(0) (the highest bid wins, the price is phibar^{-1}(phibar(runner-up)) = the
runner-up's bid, or the reserve): for four hetero bidders at most 98.86% of the optimum (the best reserve, 0.562,
measured on 200,000 profiles), which trained MyersonNets reach (98.85%).

Deployed (hard) mechanism: the second-price auction with reserve 0 on the transformed bids r_i = phibar_i(b_i).
The highest r_i wins if r_i > 0 (lowest index on ties) and pays its critical bid

    p_w = max(0, phibar_w^{-1}(max(0, max_{k != w} r_k))),

the least non-negative bid that still wins (phibar_w is strictly increasing and continuous). Threshold payments
of a monotone 0/1 allocation: exactly dominant-strategy IC and ex-post IR, whatever the parameters.

Training (soft): the allocation is relaxed to a softmax over the transformed bids plus a zero "no sale" dummy,
a = softmax([r_1, ..., r_n, 0] / temperature)[:n], with the same payment per unit of allocation, p_i = a_i c_i,
c_i = phibar_i^{-1}(max(0, max_{k != i} r_k)). The loss is -E[sum_i p_i] on minibatches (Adam). As the
temperature goes to 0 this is the revenue of the hard mechanism, except that training leaves out the clamp of
the critical bid at 0: where phibar_i(0) > 0 the clamped price has no gradient; the unclamped one (a lower bound)
pushes phibar_i(0) down until the reserve is positive, after which both agree. Each phibar_i starts with a
positive reserve (``init_reserve``): at reserve 0 the expected revenue is stationary in the reserve. The
parameters kept are those with the best validation revenue of the HARD mechanism (validation split, never test).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from pipeline_lib.single_item.minibatches import minibatch

Tensor = torch.Tensor


@dataclass(frozen=True)
class MyersonNetConfig:
    """Hyperparameters of MyersonNet (defaults declared here only). ``temperature`` is in units of the
    transformed bids; ``init_scale`` is the standard deviation of the initial w and beta (slopes near 1/s);
    ``init_reserve`` the initial reserve of every bidder as a fraction of s. A positive initial reserve matters:
    at reserve 0 the expected revenue is stationary in the reserve (no sale is lost to a reserve at the bottom
    of the support), so gradient descent started there never learns one."""

    n_groups: int = 5
    n_units: int = 10
    iterations: int = 1500
    batch_size: int = 512
    lr: float = 1e-2
    temperature: float = 0.02
    init_scale: float = 0.2
    init_reserve: float = 0.5
    eval_every: int = 100
    val_profiles: int = 10000
    resample_bidders: bool = False  # minibatch columns drawn independently (independent bidders only)
    shared_map: bool = False  # one phibar for every bidder (symmetric priors only)

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> MyersonNetConfig:
        return cls(**{k: v for k, v in cfg.items() if k in cls.__dataclass_fields__})


class MyersonNet(nn.Module):
    """Per-bidder monotone maps phibar_i (parameters w, beta of shape (n, K, J)) and the mechanism they define;
    ``shared``: one map for every bidder (shape (1, K, J), broadcast), for bidders with the same prior, where the
    optimal auction treats them alike (Myerson: one virtual value) and each map sees n times the data."""

    def __init__(
        self,
        n_bidders: int,
        n_groups: int = 5,
        n_units: int = 10,
        input_scale: float = 1.0,
        init_scale: float = 0.2,
        generator: torch.Generator | None = None,
        init_reserve: float = 0.5,
        shared: bool = False,
    ) -> None:
        super().__init__()
        if n_bidders < 1 or n_groups < 1 or n_units < 1:
            raise ValueError("need at least one bidder, one group and one unit")
        self._n_bidders, self.shared = int(n_bidders), bool(shared)
        shape = (1 if shared else n_bidders, n_groups, n_units)
        self.w = nn.Parameter(init_scale * torch.randn(shape, generator=generator))
        self.beta = nn.Parameter(init_scale * torch.randn(shape, generator=generator))
        self.register_buffer("input_scale", torch.tensor(float(input_scale)))
        with torch.no_grad():  # shift each phibar_i so that phibar_i(init_reserve * s) = 0
            at = torch.full((1, n_bidders), float(init_reserve) * float(input_scale))
            self.beta -= self.transform(at)[0][: shape[0], None, None]

    @property
    def n_bidders(self) -> int:
        return self._n_bidders

    def config(self) -> dict[str, Any]:
        """Constructor arguments, saved next to the weights."""
        _, n_groups, n_units = self.w.shape
        return {"n_bidders": self.n_bidders, "n_groups": n_groups, "n_units": n_units,
                "input_scale": float(self.input_scale), "shared": self.shared}  # fmt: skip

    def transform(self, bids: Tensor) -> Tensor:
        """r_i = phibar_i(b_i) = min_k max_j (exp(w_ikj) b_i / s + beta_ikj), shape (B, n)."""
        x = (bids / self.input_scale)[..., None, None]
        return (self.w.exp() * x + self.beta).amax(dim=-1).amin(dim=-1)

    def inverse(self, y: Tensor) -> Tensor:
        """phibar_i^{-1}(y_i) = s max_k min_j exp(-w_ikj) (y_i - beta_ikj), shape (B, n)."""
        z = ((-self.w).exp() * (y[..., None, None] - self.beta)).amin(dim=-1).amax(dim=-1)
        return z * self.input_scale

    @staticmethod
    def thresholds(ranks: Tensor) -> Tensor:
        """t_i = max(0, max_{k != i} r_k), shape (B, n)."""
        if ranks.shape[1] == 1:
            return torch.zeros_like(ranks)
        top2 = ranks.topk(2, dim=1)
        first, second = top2.values[:, :1], top2.values[:, 1:]
        is_top = torch.arange(ranks.shape[1], device=ranks.device)[None, :] == top2.indices[:, :1]
        return torch.where(is_top, second, first).clamp_min(0.0)

    def critical_bids(self, ranks: Tensor) -> Tensor:
        """c_i = max(0, phibar_i^{-1}(t_i)): the least bid with which bidder i beats t_i."""
        return self.inverse(self.thresholds(ranks)).clamp_min(0.0)

    def forward(self, bids: Tensor, hard: bool = True, temperature: float = 0.02) -> tuple[Tensor, Tensor]:
        """(a, p): hard = the deployed auction, else the softmax relaxation used for training (whose price
        per unit, phibar_i^{-1}(t_i), is not clamped at 0; see the module docstring)."""
        r = self.transform(bids)
        if hard:
            top = r.argmax(dim=1)
            sold = r.gather(1, top[:, None]) > 0
            alloc = nn.functional.one_hot(top, self.n_bidders).to(bids.dtype) * sold.to(bids.dtype)
            return alloc, alloc * self.critical_bids(r)
        logits = torch.cat([r, torch.zeros_like(r[:, :1])], dim=1) / temperature
        alloc = torch.softmax(logits, dim=1)[:, : self.n_bidders]
        return alloc, alloc * self.inverse(self.thresholds(r))

    def reserves(self) -> Tensor:
        """Bidder i's reserve phibar_i^{-1}(0) (clamped at 0), shape (n,)."""
        with torch.no_grad():
            zero = torch.zeros((1, self.n_bidders), dtype=self.w.dtype, device=self.w.device)
            return self.inverse(zero)[0].clamp_min(0.0)


class MyersonNetMechanism:
    """Evaluator mechanism (``bids (B, n) -> (alloc, pay)``): a frozen copy of the net in ``dtype`` (float64 at
    test time). The hard auction is piecewise constant in each bid, so it declares ``differentiable = False``."""

    def __init__(
        self, net: MyersonNet, hard: bool = True, dtype: torch.dtype = torch.float64, temperature: float = 0.02
    ) -> None:
        self.net = copy.deepcopy(net).to(dtype).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.hard = hard
        self.temperature = temperature
        self.differentiable = not hard
        self.name = "myersonnet" if hard else "myersonnet_soft"
        self.params: dict[str, Any] = {"reserves": [float(x) for x in self.net.reserves()]}

    def __call__(self, bids: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(bids, hard=self.hard, temperature=self.temperature)


def myersonnet_mechanism(net: MyersonNet, hard: bool = True) -> MyersonNetMechanism:
    """The deployed (hard, float64) MyersonNet auction for the evaluator."""
    return MyersonNetMechanism(net, hard=hard)


def hard_revenue(net: MyersonNet, values: Tensor) -> float:
    """Mean revenue of the deployed auction on truthful profiles."""
    with torch.no_grad():
        return float(net(values, hard=True)[1].sum(1).mean())


def train_myersonnet(
    values_train: np.ndarray, values_val: np.ndarray, cfg: MyersonNetConfig | None = None, seed: int = 0
) -> tuple[MyersonNet, list[dict[str, Any]]]:
    """Train MyersonNet on ``values_train`` (N, n) by minimising the soft -revenue with Adam; every
    ``eval_every`` iterations (and at the end) score the hard auction on ``values_val`` and keep the best.
    Returns the best network (float32, eval mode) and one history row per evaluation."""
    cfg = cfg or MyersonNetConfig()
    gen = torch.Generator().manual_seed(int(seed))
    train = torch.as_tensor(np.asarray(values_train, np.float32))
    val = torch.as_tensor(np.asarray(values_val, np.float32))[: cfg.val_profiles]
    scale = float(max(train.mean(), 1e-6))
    net = MyersonNet(
        train.shape[1], cfg.n_groups, cfg.n_units, scale, cfg.init_scale, gen, cfg.init_reserve, cfg.shared_map
    )
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    best_rev, best_state = -math.inf, copy.deepcopy(net.state_dict())
    history: list[dict[str, Any]] = []
    running, count, t0 = 0.0, 0, time.perf_counter()
    for it in range(1, cfg.iterations + 1):
        idx = torch.randint(0, train.shape[0], (min(cfg.batch_size, train.shape[0]),), generator=gen)
        _, pay = net(minibatch(train, idx, gen, cfg.resample_bidders), hard=False, temperature=cfg.temperature)
        revenue = pay.sum(1).mean()
        opt.zero_grad(set_to_none=True)
        (-revenue).backward()
        opt.step()
        running, count = running + float(revenue.detach()), count + 1
        if it % cfg.eval_every == 0 or it == cfg.iterations:
            val_rev = hard_revenue(net, val)
            if val_rev > best_rev:
                best_rev, best_state = val_rev, copy.deepcopy(net.state_dict())
            history.append(
                {
                    "iteration": it,
                    "train_soft_revenue": running / count,
                    "val_revenue": val_rev,
                    "best_val_revenue": best_rev,
                    "seconds": time.perf_counter() - t0,
                }
            )
            running, count = 0.0, 0
    net.load_state_dict(best_state)
    return net.eval(), history


def config_dict(cfg: MyersonNetConfig) -> dict[str, Any]:
    return asdict(cfg)
