"""RegretNet's distilled start: the report's network distilled from a DSIC teacher over the whole misreport range.

RegretNet's augmented Lagrangian (:mod:`pipeline_lib.single_item.learning.regretnet`) started from the report's phase-1
network does not recover the optimum: phase 1 is a few epochs of imitation on truthful profiles only, so the network is
exploitable at bids it never saw (exponential, quick tier: revenue 116% of the optimum at regret 0.21), and the
Lagrangian, removing that regret, settles far below the optimum (78% at regret 8e-4). Here the start is fitted to a DSIC
teacher T = (a*, p*) (in the pipeline the family's MyersonNet of the same seed, learned from samples and exactly DSIC,
every winner paying one critical bid; never a known optimum) until it is close enough that the Lagrangian only has to
remove a small residual regret.

Each step draws B training profiles v and the same profiles with one random bidder's bid replaced by a uniform
misreport in [0, U] (the range the evaluator searches), so the teacher's response to deviations is imitated too.
On these bids b, with the network's allocation logits z (n bidders + no sale) and payment fractions rho:

    L = CE(softmax(z), (a*_1..a*_n, 1 - sum_i a*_i))
        + w_p * (1/n) sum_i [ a*_i ((rho_i - t_i / b_i) b_i / s)^2 + w_l (1 - a*_i) (rho_i - 1)^2 ],

t_i = p*_i / a*_i the teacher's price per unit of allocation (the critical bid of a winner), s the network's input
scale. The payment error is weighted by the bid (b_i / s): a fraction error at a high bid is a large price error,
which a deviation to that bid exploits. A loser is asked for rho = 1 (its soft share costs its whole bid: utility 0,
as under the teacher). With a price head (rho_i = min(1, q_i / b_i), :mod:`pipeline_lib.single_item.mechanisms.nets`) a
winner's term is a*_i ((q_i - t_i) / s)^2 instead: q_i = t_i is the same target, but min(b, q) is flat in q where
q > b, so the fraction form has no gradient for a winner whose price level overshot its bid and leaves it charged its
whole bid (four U[0, 1] bidders: far winners charged 1.10 t on average, regret 1.2e-2). Adam with a cosine-decayed step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from pipeline_lib.core.checkpoint import Checkpoint
from pipeline_lib.core.config_blocks import from_mapping
from pipeline_lib.single_item.mechanisms.nets import SingleItemNet, capped_fraction

Tensor = torch.Tensor
Teacher = Callable[[Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class DistillConfig:
    """Hyperparameters of the distillation (defaults declared here only); ``iterations = 0`` skips it."""

    iterations: int = 40000
    batch_size: int = 512
    lr: float = 3e-3
    payment_weight: float = 10.0
    loser_weight: float = 0.1

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | None, key: str = "single_item.regretnet.start") -> DistillConfig:
        """Strict (:func:`pipeline_lib.core.config_blocks.from_mapping`); ``teacher`` is the stage's own key."""
        return from_mapping(cls, cfg, key, handled=("teacher",))


def with_misreports(values: Tensor, upper: float, gen: torch.Generator) -> Tensor:
    """``values`` (B, n) stacked over a copy in which one random bidder per profile bids uniformly in [0, upper]."""
    b, n = values.shape
    deviated = values.clone()
    deviated[torch.arange(b), torch.randint(0, n, (b,), generator=gen)] = torch.rand(b, generator=gen) * upper
    return torch.cat([values, deviated])


def distillation_loss(net: SingleItemNet, bids: Tensor, teacher: Teacher, cfg: DistillConfig) -> Tensor:
    """L of the module docstring on ``bids`` (B, n)."""
    with torch.no_grad():
        a_t, p_t = teacher(bids.double())
        a_t, p_t = a_t.to(bids.dtype), p_t.to(bids.dtype)
    target = torch.cat([a_t, (1.0 - a_t.sum(dim=1, keepdim=True)).clamp_min(0.0)], dim=1)
    h = net.trunk(bids / net.input_scale)
    ce = torch.nn.functional.cross_entropy(net.alloc_head(h), target)
    price = torch.where(a_t > 0, p_t / a_t.clamp_min(1e-12), bids)  # t_i; a loser's target rho is 1
    if net.payment_head == "fraction":
        rho = net.fractions(h, bids)
        frac = (price / bids.clamp_min(1e-12)).clamp(0.0, 1.0)
        winner_term = a_t * ((rho - frac) * bids / net.input_scale) ** 2
    else:  # fit q to t itself: min(b, q) is flat in q where q > b (a dead zone); q computed once
        q = net.prices(h, bids)
        rho = capped_fraction(q, bids)
        winner_term = a_t * ((q - price) / net.input_scale) ** 2
    loser_term = cfg.loser_weight * (1.0 - a_t) * (rho - 1.0) ** 2
    return ce + cfg.payment_weight * (winner_term + loser_term).mean()


def distill(
    net: SingleItemNet, values: np.ndarray, teacher: Teacher, cfg: DistillConfig, upper: float, seed: int,
    ckpt: Checkpoint | None = None,
) -> tuple[SingleItemNet, list[dict[str, Any]]]:  # fmt: skip
    """Train ``net`` (in place, float32) to imitate ``teacher`` on the training ``values`` (N, n) and their
    deviations in [0, ``upper``] for ``cfg.iterations`` steps; returns it (eval mode) and a short history (the
    mean loss of every tenth of the run). With ``ckpt`` the state (parameters, Adam and schedule, generator, history)
    is saved at every history row but the last, and a run resumes from it to the uninterrupted result."""
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.as_tensor(np.asarray(values, np.float32))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(cfg.iterations, 1))
    history: list[dict[str, Any]] = []
    every = max(cfg.iterations // 10, 1)
    total, count, t0, first = 0.0, 0, time.perf_counter(), 1
    saved = ckpt.load() if ckpt is not None else None
    if saved is not None:
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        gen.set_state(saved["generator"])
        history, first = list(saved["history"]), saved["iteration"] + 1
    net.train()
    for it in range(first, cfg.iterations + 1):
        idx = torch.randint(0, len(x), (cfg.batch_size,), generator=gen)
        loss = distillation_loss(net, with_misreports(x[idx], upper, gen), teacher, cfg)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"distillation loss is not finite at iteration {it}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total, count = total + float(loss.detach()), count + 1
        if it % every == 0 or it == cfg.iterations:
            history.append({"iteration": it, "loss": total / count, "seconds": time.perf_counter() - t0})
            total, count = 0.0, 0
            if ckpt is not None and it < cfg.iterations:
                state = {"iteration": it, "net": net.state_dict(), "optimizer": opt.state_dict()}
                ckpt.save({**state, "scheduler": sched.state_dict(), "generator": gen.get_state(), "history": history})
    return net.eval(), history


def config_dict(cfg: DistillConfig) -> dict[str, Any]:
    return asdict(cfg)
