"""RegretNet training of the report's single-item network (Duetting, Feng, Narasimhan, Parkes, Ravindranath,
"Optimal Auctions through Deep Learning", ICML 2019 / JACM 2024; docs/methods.md#regretnet).

Mechanism: :class:`pipeline_lib.single_item.mechanisms.nets.SingleItemNet` (MLP: the report's widths 64-32-16, here
``hidden``; softmax over n bidders plus "no sale", p_i = rho_i b_i a_i, ex-post IR by construction; the fraction is the
report's sigmoid, or with ``payment_head: price`` / ``critical`` comes from a price level, rho_i = min(1, q_i / b_i),
q_i from the trunk or from an MLP of the other bids alone, since a winner's DSIC payment is flat in its own bid).
Training solves

    min_theta -rev(theta)  subject to  rgt_i(theta) = 0 for every bidder i

by the augmented Lagrangian method of RegretNet, on minibatches of profiles v (B, n):

    C(theta) = -rev + sum_i mu_i rgt_i + (rho / 2) sum_i rgt_i^2,
    rev      = (1/B) sum_v sum_i p_i(v),
    rgt_i    = (1/B) sum_v max(0, max_r u_i(m_ir; v) - u_i(v_i; v)),
    u_i(b; v) = a_i(b, v_-i) v_i - p_i(b, v_-i)                      (bidder i's own utility).

The misreports m_ir (R per profile and bidder) are found by an inner search: ``inner_steps`` steps of gradient ascent on
u_i (step ``inner_lr`` x the value bound U, clipped to [0, U]) started from the R best of a screened candidate set: the
misreports this profile ended with the last time it was drawn (warm start; initially R draws from bidder i's training
values), ``grid_misreports`` stratified random points of [0, U] (one per cell of an even grid, fresh every iteration)
and, with ``tie_misreports``, the other bids +- eps U (just under / over a rival, where a soft allocation changes
fastest). Bids are one-dimensional, so this screen is cheap and finds the global deviations that a local ascent from the
warm start misses (the test-time evaluator searches a fine grid). A search that misses deviations lets the Lagrangian
buy revenue with regret it does not see (measured, quick tier, exponential, price head, 1500 iterations: 16 grid points
and 5 steps of 0.05 U, the defaults: test regret 2.7e-3 at 102.0% of Myerson's revenue; 64 points and 10 steps of 0.01
U, twice the time: 1.6e-3 at 101.4%; 200 points and 5 steps of 0.005 U, four times the time: 1.4e-3 at 101.1%). The
outer step is Adam on C with the misreports held fixed (Danskin: the gradient of a max is the gradient at the
maximiser), its step decaying to 0 over the run (``lr_schedule: cosine``; ``constant`` keeps it). Minibatches are rows
of the training split or, with ``resample_bidders`` (the pipeline's default for independent bidders), profiles whose
columns are drawn independently (:mod:`pipeline_lib.single_item.learning.minibatches`; the warm-start slots then hold
another profile's misreports, which are screened like the grid points). Every ``mu_every`` (Q) iterations mu_i <- mu_i +
rho * mean of rgt_i over those Q iterations, and every ``rho_every`` iterations rho <- min(rho_max, rho + rho_increment)
(RegretNet grows rho additively on a schedule).

Start (``init_net``): in the pipeline, the output of rule ``regretnet_start``: the family's phase-1 network
(``warm_start``) or a fresh one, distilled from a DSIC teacher over the whole misreport range
(:mod:`pipeline_lib.single_item.learning.distilled_start`); without ``init_net`` a fresh network. From the report's
phase-1 network alone the Lagrangian settled far below the optimum (quick tier, exponential: 78% at regret 8e-4; from
scratch, uniform: 89% at 1.1e-3). From the distilled start a large initial multiplier makes cutting payments the
cheapest way to lower regret (quick tier, uniform, mu_init 100: 91% of the optimum at regret 7.6e-4); at mu_init 10
revenue is kept while regret falls (99.9% at 1.1e-3, from a start at 98.6% and 1.6e-3).

Iterate selection (``select``): every ``eval_every`` iterations, and before the first one when training starts from
``init_net`` (iteration 0: the start competes), the network is scored on the validation profiles by the honest
evaluator; ``best_feasible`` keeps the scored iterate of highest validation revenue among those whose validation regret
is within ``regret_budget`` (none feasible: the one of least regret), ``last`` the final one. Selection reads validation
revenue and validation regret only: the optimal auction, its revenue and its payments are never an input of training,
selection or stopping (a learner is used where no optimum is known; the optimum appears only in the evaluation,
:mod:`pipeline_lib.single_item.evaluation.optimum_check`). A budget is what a user concedes: regret buys revenue, so the
richest iterate within a loose budget earns it from bidders it does not make truthful (docs/methods.md#regretnet).

Deployment: as trained (soft allocation, :class:`~pipeline_lib.single_item.mechanisms.nets.AsMechanism`) and with the
argmax allocation (``hard=True``); both are scored by the one honest evaluator,
:mod:`pipeline_lib.single_item.evaluation.evaluator`.
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

from pipeline_lib.core.checkpoint import Checkpoint
from pipeline_lib.core.config_blocks import from_mapping
from pipeline_lib.single_item.evaluation import evaluator as ev
from pipeline_lib.single_item.learning.minibatches import check_batch_size, minibatch
from pipeline_lib.single_item.learning.misreport_search import inner_search, regret_per_bidder, screened_starts
from pipeline_lib.single_item.mechanisms.nets import CRITICAL_HIDDEN, PAYMENT_HEADS, AsMechanism, SingleItemNet

Tensor = torch.Tensor


@dataclass(frozen=True)
class RegretNetConfig:
    """Hyperparameters of RegretNet training (defaults declared here only)."""

    hidden: tuple[int, ...] = (128, 128, 64)  # the report's 64-32-16 cannot fit Myerson's payments closely enough
    payment_head: str = "critical"  # rho = min(1, q / b), q from the other bids (nets.py); the report's "fraction"
    price_hidden: tuple[int, ...] = CRITICAL_HIDDEN  # the critical head's price MLPs
    iterations: int = 3000
    batch_size: int = 256
    lr: float = 3e-4
    n_misreports: int = 4
    inner_steps: int = 5
    inner_lr: float = 0.05
    mu_init: float = 10.0
    mu_every: int = 25
    rho_init: float = 50.0
    rho_increment: float = 50.0
    rho_every: int = 200
    rho_max: float = 500.0
    warm_start: bool = False  # start from the report's phase-1 network (needs hidden 64-32-16, fraction head)
    grid_misreports: int = 16
    tie_misreports: bool = True
    tie_eps: float = 1e-3
    select: str = "best_feasible"
    regret_budget: float = 1e-3
    eval_every: int = 250
    val_profiles: int = 500
    val_grid: int = 1001  # the evaluator's grid: at 201 points over [0, 15.4] (hetero) regret read 9.9e-4 was 2.3e-3
    val_refine_top: int = 2  # validation search: the best grid points refined by gradient ascent, as the evaluator
    val_refine_steps: int = 20  # 0: grid only (latent, quick tier: picked at val regret 5e-4, test 1.2e-3)
    misreport_upper: float | None = None  # B of the misreport search; None: the largest training value
    resample_bidders: bool = False  # minibatch columns drawn independently (independent bidders only)
    lr_schedule: str = "cosine"  # the step decays to 0 over the run; or "constant"

    @classmethod
    def from_mapping(
        cls, cfg: Mapping[str, Any] | None, key: str = "single_item.regretnet.training"
    ) -> RegretNetConfig:
        """Strict (:func:`pipeline_lib.core.config_blocks.from_mapping`): an unknown key is an error naming it."""
        return from_mapping(cls, cfg, key, tuples=("hidden", "price_hidden"))

    def __post_init__(self) -> None:
        if self.select not in SELECTIONS:
            raise ValueError(f"RegretNet select must be one of {SELECTIONS}, got {self.select!r}")
        if self.payment_head not in PAYMENT_HEADS:
            raise ValueError(f"RegretNet payment_head must be one of {PAYMENT_HEADS}, got {self.payment_head!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"RegretNet lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")


SELECTIONS = ("best_feasible", "last")
LR_SCHEDULES = ("constant", "cosine")


def fresh_net(values: np.ndarray | Tensor, cfg: RegretNetConfig) -> SingleItemNet:
    """A newly initialised network (``cfg.hidden``, ``cfg.payment_head``, ``cfg.price_hidden``) for profiles
    ``values`` (N, n), input scale the mean value (draws from torch's global generator: seed it first)."""
    scale = float(max(float(values.mean()), 1e-6))
    return SingleItemNet(
        values.shape[1], cfg.hidden, input_scale=scale, payment_head=cfg.payment_head, price_hidden=cfg.price_hidden
    )


def check_start(net: SingleItemNet, cfg: RegretNetConfig, n_bidders: int) -> None:
    """A starting network must have RegretNet's bidders, hidden layers and payment head."""
    if tuple(net.hidden) != tuple(cfg.hidden) or net.n_bidders != n_bidders:
        raise ValueError(
            f"RegretNet start: the network has {net.n_bidders} bidders and hidden layers {list(net.hidden)}, but "
            f"RegretNet trains {n_bidders} bidders with hidden {list(cfg.hidden)} (set "
            "single_item.regretnet.training.hidden to single_item.training.hidden, or warm_start: false)"
        )
    if net.payment_head != cfg.payment_head:
        raise ValueError(
            f"RegretNet start: the network's payment head is {net.payment_head!r}, but RegretNet trains "
            f"{cfg.payment_head!r} (set single_item.regretnet.training.payment_head: {net.payment_head}, or "
            "warm_start: false)"
        )
    if cfg.payment_head == "critical" and tuple(net.price_hidden) != tuple(cfg.price_hidden):
        raise ValueError(
            f"RegretNet start: the network's price MLPs have widths {list(net.price_hidden)}, but RegretNet trains "
            f"{list(cfg.price_hidden)} (set single_item.regretnet.training.price_hidden)"
        )


@dataclass
class LagrangeState:
    """Multipliers mu (n,) and penalty rho of the augmented Lagrangian."""

    mu: Tensor
    rho: float

    def loss(self, revenue: Tensor, rgt: Tensor) -> Tensor:
        """C = -rev + sum_i mu_i rgt_i + (rho / 2) sum_i rgt_i^2."""
        return -revenue + (self.mu * rgt).sum() + 0.5 * self.rho * (rgt**2).sum()


def validation_search(cfg: RegretNetConfig, upper: float) -> ev.RegretSearch:
    """The misreport search scoring the validation iterates: ``val_grid`` points of [0, ``upper``], the other bids
    +- eps, then ``val_refine_steps`` Adam steps from the ``val_refine_top`` best (the evaluator's refinement; a
    grid alone under-states the regret of a sharp network, so selection would deploy regret it cannot see)."""
    return ev.RegretSearch(
        upper=upper, grid=cfg.val_grid, refine_top=cfg.val_refine_top, refine_steps=cfg.val_refine_steps
    )


def validation_metrics(
    net: SingleItemNet, values_val: np.ndarray, search: ev.RegretSearch | None = None, hard: bool = False
) -> dict[str, float]:
    """Revenue and honest regret (the evaluator's mean per-bidder regret) of the soft or hard network."""
    vals = np.asarray(values_val, np.float64)
    search = search or ev.RegretSearch(upper=ev.misreport_upper(vals, math.inf, 1.0))
    m = ev.evaluate_mechanism(AsMechanism(net, hard=hard), vals, search, ev.Bootstrap(n_boot=1)).metrics
    return {
        "revenue": m["revenue"]["value"],
        "regret_mean": m["regret_mean"]["value"],
        "regret_max": m["regret_max_bidder"]["value"],
        "ir_violation_rate": m["ir_violation_rate"]["value"],
    }


def train_regretnet(
    values_train: np.ndarray,
    values_val: np.ndarray,
    cfg: RegretNetConfig | None = None,
    seed: int = 0,
    init_net: SingleItemNet | None = None,
    ckpt: Checkpoint | None = None,
) -> tuple[SingleItemNet, list[dict[str, Any]]]:
    """Augmented-Lagrangian training (module docstring) from ``init_net`` (copied; e.g. a phase-1 warm start)
    or a fresh network. Every ``eval_every`` iterations and at the end, revenue and honest regret of the soft
    network on the first ``val_profiles`` validation profiles (:func:`validation_search` over [0, U]) are
    recorded; the deployed iterate follows ``cfg.select`` (its row has ``selected`` True). With ``ckpt`` the whole
    training state (parameters, Adam and schedule, generator, misreport bank, multipliers, history, best iterate)
    is saved after every record and a run resumes from it to the uninterrupted result.
    Returns that network (float32, eval mode) and the history rows."""
    cfg = cfg or RegretNetConfig()
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))  # parameter initialisation of a fresh network
    train = torch.as_tensor(np.asarray(values_train, np.float32))
    n_rows, n = train.shape
    check_batch_size(cfg.batch_size, n_rows, "single_item.regretnet.training.batch_size")
    upper = float(cfg.misreport_upper) if cfg.misreport_upper else float(train.max())
    if init_net is None:
        net = fresh_net(train, cfg)
    else:
        check_start(init_net, cfg, n)
        net = copy.deepcopy(init_net).float()
    bank = train[
        torch.randint(0, n_rows, (n_rows, n, cfg.n_misreports), generator=gen),
        torch.arange(n)[None, :, None].expand(n_rows, n, cfg.n_misreports),
    ]  # bidder i's own draws
    val = np.asarray(values_val, np.float64)[: cfg.val_profiles]
    search = validation_search(cfg, ev.misreport_upper(val, math.inf, 1.0) if upper <= 0 else upper)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.iterations) if cfg.lr_schedule == "cosine" else None
    lag = LagrangeState(torch.full((n,), float(cfg.mu_init)), float(cfg.rho_init))
    rgt_sum, since_mu = torch.zeros(n), 0
    history: list[dict[str, Any]] = []
    window = {"revenue": 0.0, "regret": 0.0, "count": 0}
    t0 = time.perf_counter()

    def record(it: int, best: tuple[Any, ...]) -> tuple[Any, ...]:
        """Score the network on the validation profiles, append a history row, keep the best iterate so far."""
        net.eval()
        vm = validation_metrics(net, val, search)
        c = window["count"]
        score = selection_score(vm["revenue"], vm["regret_mean"], cfg.regret_budget)
        if cfg.select == "last":
            best = (None, None, it)  # the network as it ends: no copy needed
        elif best[0] is None or score > best[0]:
            best = (score, copy.deepcopy(net.state_dict()), it)
        history.append(
            {
                "iteration": it,
                "train_revenue": window["revenue"] / c if c else None,  # None: no training step yet (the start)
                "train_regret": window["regret"] / c if c else None,
                "val_revenue": vm["revenue"],
                "val_regret": vm["regret_mean"],
                "val_regret_max": vm["regret_max"],
                "mu": [float(x) for x in lag.mu],
                "rho": lag.rho,
                "seconds": time.perf_counter() - t0,
            }
        )
        return best

    best: tuple[Any, ...] = (None, None, None)  # (score, state, iteration) of the deployed iterate
    saved = ckpt.load() if ckpt is not None else None
    if saved is None:
        if init_net is not None and cfg.select == "best_feasible":
            best = record(0, best)  # the start competes: a Lagrangian phase that only trades revenue away loses
        perm, pos, first = torch.randperm(n_rows, generator=gen), 0, 1
    else:  # everything the remaining iterations depend on
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["optimizer"])
        if sched is not None:
            sched.load_state_dict(saved["scheduler"])
        gen.set_state(saved["generator"])
        bank, perm, pos, first = saved["bank"], saved["perm"], saved["pos"], saved["iteration"] + 1
        lag, rgt_sum, since_mu = LagrangeState(saved["mu"], saved["rho"]), saved["rgt_sum"], saved["since_mu"]
        history += saved["history"]
        best = (saved["best_score"] and tuple(saved["best_score"]), saved["best_state"], saved["best_iteration"])
    for it in range(first, cfg.iterations + 1):
        if pos + cfg.batch_size > n_rows:
            perm, pos = torch.randperm(n_rows, generator=gen), 0
        idx = perm[pos : pos + cfg.batch_size]
        pos += cfg.batch_size
        v = minibatch(train, idx, gen, cfg.resample_bidders)
        net.train()
        starts = screened_starts(net, v, bank[idx], cfg, upper, gen)
        m = inner_search(net, v, starts, cfg.inner_steps, cfg.inner_lr * upper, upper)
        bank[idx] = m
        rgt, revenue = regret_per_bidder(net, v, m)
        loss = lag.loss(revenue, rgt)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"RegretNet loss is not finite at iteration {it}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        rgt_sum += rgt.detach()
        since_mu += 1
        window["revenue"] += float(revenue.detach())
        window["regret"] += float(rgt.detach().mean())
        window["count"] += 1
        if it % cfg.mu_every == 0:
            lag.mu = lag.mu + lag.rho * rgt_sum / since_mu
            rgt_sum, since_mu = torch.zeros(n), 0
        if it % cfg.rho_every == 0:
            lag.rho = min(cfg.rho_max, lag.rho + cfg.rho_increment)
        if it % cfg.eval_every == 0 or it == cfg.iterations:
            best = record(it, best)
            window = {"revenue": 0.0, "regret": 0.0, "count": 0}
            if ckpt is not None and it < cfg.iterations:
                ckpt.save({
                    "iteration": it, "net": net.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict() if sched is not None else None, "generator": gen.get_state(),
                    "bank": bank, "perm": perm, "pos": pos, "mu": lag.mu, "rho": lag.rho, "rgt_sum": rgt_sum,
                    "since_mu": since_mu, "history": history, "best_score": best[0], "best_state": best[1],
                    "best_iteration": best[2],
                })  # fmt: skip
    if best[1] is not None:
        net.load_state_dict(best[1])
    for row in history:
        row["selected"] = row["iteration"] == best[2]
    return net.eval(), history


def selection_score(revenue: float, regret: float, budget: float) -> tuple[int, float]:
    """Order of validation iterates: feasible (validation regret <= budget) before infeasible; revenue among the
    feasible, least regret among the infeasible."""
    return (1, float(revenue)) if regret <= budget else (0, -float(regret))


def selected_row(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The history row of the deployed iterate (the last row for histories without selection)."""
    chosen = [r for r in history if r.get("selected")]
    return chosen[-1] if chosen else (history[-1] if history else None)


def config_dict(cfg: RegretNetConfig) -> dict[str, Any]:
    out = asdict(cfg)
    out["hidden"], out["price_hidden"] = list(cfg.hidden), list(cfg.price_hidden)
    return out
