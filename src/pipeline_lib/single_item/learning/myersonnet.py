"""Training MyersonNet, the exactly DSIC learned single-item auction of
:mod:`pipeline_lib.single_item.mechanisms.myersonnet_auction` (Duetting et al., ICML 2019 / JACM 2024;
docs/methods.md#myersonnet): the hard auction from a relaxation, then its softmax deployment on its exact revenue.
Learned from samples alone: nothing here reads the optimal auction.

Training (soft): the allocation is relaxed to a softmax over the transformed bids plus a zero "no sale" dummy,
a = softmax([r_1, ..., r_n, 0] / temperature)[:n], with the same payment per unit of allocation, p_i = a_i c_i,
c_i = phibar_i^{-1}(max(0, max_{k != i} r_k)). The loss is -E[sum_i p_i] on minibatches (Adam). As the
temperature goes to 0 this is the revenue of the hard mechanism, except that training leaves out the clamp of
the critical bid at 0: where phibar_i(0) > 0 the clamped price has no gradient; the unclamped one (a lower bound)
pushes phibar_i(0) down until the reserve is positive, after which both agree. Each phibar_i starts with a
positive reserve (``init_reserve``): at reserve 0 the expected revenue is stationary in the reserve. The
parameters kept are those with the best validation revenue of the HARD mechanism (validation split, never test).

Softmax deployment: trained from the trained hard maps (:func:`train_softmax`) on its own exact revenue E[sum_i b_i x_i
- int_0^{b_i} x_i] with envelope payments (:mod:`pipeline_lib.single_item.mechanisms.envelope`), no relaxation: the
mechanism trained is the one deployed.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from pipeline_lib.core.checkpoint import Checkpoint
from pipeline_lib.core.config_blocks import from_mapping
from pipeline_lib.single_item.learning.minibatches import check_batch_size, minibatch
from pipeline_lib.single_item.mechanisms.myersonnet_auction import MyersonNet, mean_revenue

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
    softmax_iterations: int = 6000  # training steps of the softmax deployment (0: no softmax deployment)
    softmax_lr: float = 1e-2
    softmax_temperature: float = 0.05  # the deployed softmax's temperature, in units of the transformed bids
    softmax_restarts: int = 2  # softmax trainings from the hard maps (minibatch seeds seed, seed + 1, ...); best kept

    @classmethod
    def from_mapping(
        cls, cfg: Mapping[str, Any] | None, key: str = "single_item.myersonnet.training"
    ) -> MyersonNetConfig:
        """Strict (:func:`pipeline_lib.core.config_blocks.from_mapping`): an unknown key is an error naming it."""
        return from_mapping(cls, cfg, key)


def _fit(
    net: MyersonNet, train: Tensor, val: Tensor, cfg: MyersonNetConfig, gen: torch.Generator, mode: str,
    train_mode: str, iterations: int, lr: float, temperature: float, resume: Mapping[str, Any] | None = None,
    save: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Adam on -E[sum_i p_i] of the ``train_mode`` mechanism on minibatches; every ``eval_every`` iterations (and
    at the end) score the ``mode`` auction on ``val`` and keep the best parameters in ``net``. One history row per
    evaluation. ``save`` receives the fit's state after every evaluation but the last; ``resume`` (such a state)
    continues from it."""
    check_batch_size(cfg.batch_size, train.shape[0], "single_item.myersonnet.training.batch_size")
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best_rev, best_state = -math.inf, copy.deepcopy(net.state_dict())
    history: list[dict[str, Any]] = []
    first = 1
    if resume is not None:
        net.load_state_dict(resume["net"])
        opt.load_state_dict(resume["optimizer"])
        gen.set_state(resume["generator"])
        best_rev, best_state, history = resume["best_rev"], resume["best_state"], list(resume["history"])
        first = resume["iteration"] + 1
    running, count, t0 = 0.0, 0, time.perf_counter()
    for it in range(first, iterations + 1):
        idx = torch.randint(0, train.shape[0], (cfg.batch_size,), generator=gen)
        bids = minibatch(train, idx, gen, cfg.resample_bidders)
        revenue = net(bids, mode=train_mode, temperature=temperature)[1].sum(1).mean()
        opt.zero_grad(set_to_none=True)
        (-revenue).backward()
        opt.step()
        running, count = running + float(revenue.detach()), count + 1
        if it % cfg.eval_every == 0 or it == iterations:
            val_rev = mean_revenue(net, val, mode, temperature)
            if val_rev > best_rev:
                best_rev, best_state = val_rev, copy.deepcopy(net.state_dict())
            history.append(
                {
                    "deployment": mode,
                    "iteration": it,
                    "train_soft_revenue": running / count,
                    "val_revenue": val_rev,
                    "best_val_revenue": best_rev,
                    "seconds": time.perf_counter() - t0,
                }
            )
            running, count = 0.0, 0
            if save is not None and it < iterations:
                state = {"iteration": it, "net": net.state_dict(), "optimizer": opt.state_dict()}
                save({**state, "generator": gen.get_state(), "best_rev": best_rev, "best_state": best_state,
                      "history": history})  # fmt: skip
    net.load_state_dict(best_state)
    return history


def train_myersonnet(
    values_train: np.ndarray, values_val: np.ndarray, cfg: MyersonNetConfig | None = None, seed: int = 0,
    ckpt: Checkpoint | None = None,
) -> tuple[MyersonNet, list[dict[str, Any]]]:  # fmt: skip
    """Train MyersonNet on ``values_train`` (N, n) by minimising the relaxed -revenue with Adam; every
    ``eval_every`` iterations (and at the end) score the hard auction on ``values_val`` and keep the best.
    Returns the best network (float32, eval mode) and one history row per evaluation. With ``ckpt``: resumable
    after every evaluation (``hard_fit``), and the finished auction is kept (``hard``) for :func:`train_softmax`'s
    checkpoints, so a run killed there does not train it again."""
    cfg = cfg or MyersonNetConfig()
    gen = torch.Generator().manual_seed(int(seed))
    train = torch.as_tensor(np.asarray(values_train, np.float32))
    val = torch.as_tensor(np.asarray(values_val, np.float32))[: cfg.val_profiles]
    scale = float(max(train.mean(), 1e-6))
    net = MyersonNet(
        train.shape[1], cfg.n_groups, cfg.n_units, scale, cfg.init_scale, gen, cfg.init_reserve, cfg.shared_map
    )
    saved = (ckpt.load() if ckpt is not None else None) or {}
    if "hard" in saved:
        net.load_state_dict(saved["hard"]["net"])
        return net.eval(), list(saved["hard"]["history"])
    save = None if ckpt is None else (lambda state: ckpt.save({"hard_fit": state}))
    history = _fit(
        net, train, val, cfg, gen, "hard", "relaxed", cfg.iterations, cfg.lr, cfg.temperature,
        saved.get("hard_fit"), save,
    )  # fmt: skip
    if ckpt is not None:
        ckpt.save({"hard": {"net": net.state_dict(), "history": history}})
    return net.eval(), history


def train_softmax(
    net: MyersonNet, values_train: np.ndarray, values_val: np.ndarray, cfg: MyersonNetConfig | None = None,
    seed: int = 0, ckpt: Checkpoint | None = None,
) -> tuple[MyersonNet, list[dict[str, Any]]]:  # fmt: skip
    """The softmax deployment: a float64 copy of ``net`` (the trained hard MyersonNet) trained on the EXACT revenue
    of the softmax auction with envelope payments, E[sum_i b_i x_i - int_0^{b_i} x_i] (no relaxation: the mechanism
    trained is the one deployed), for ``softmax_iterations`` steps of Adam at ``softmax_lr``; the parameters kept
    are those of the best validation revenue of that same auction, over ``softmax_restarts`` runs from the hard maps
    with different minibatch streams. Restarts, because finding the flat piece that irons is a matter of escaping a
    plateau: on report-sized hetero data one run in about four stays at the hard auction's revenue (98.8% of
    Myerson) while the others reach 99.8%. Float64: the closed-form integrals subtract nearby softplus values.
    History rows carry their ``restart``. With ``ckpt`` (that of :func:`train_myersonnet`, whose finished hard
    auction every save carries): resumable after every evaluation of every restart."""
    cfg = cfg or MyersonNetConfig()
    train = torch.as_tensor(np.asarray(values_train, np.float64))
    val = torch.as_tensor(np.asarray(values_val, np.float64))[: cfg.val_profiles]
    saved = (ckpt.load() if ckpt is not None else None) or {}
    carry = {"hard": saved["hard"]} if "hard" in saved else {}
    done = saved.get("softmax_done") or {"restarts": 0, "best_state": None, "best_rev": -math.inf, "history": []}
    best_state, best_rev, history = done["best_state"], done["best_rev"], list(done["history"])
    fit = saved.get("softmax_fit")
    for restart in range(done["restarts"], max(cfg.softmax_restarts, 1)):
        gen = torch.Generator().manual_seed(int(seed) + restart)
        soft = copy.deepcopy(net).double().train()
        so_far = {"restarts": restart, "best_state": best_state, "best_rev": best_rev, "history": history}

        def save(state: dict[str, Any], so_far: dict[str, Any] = so_far, restart: int = restart) -> None:
            ckpt.save({**carry, "softmax_done": so_far, "softmax_fit": {**state, "restart": restart}})  # type: ignore[union-attr]

        resume = fit if fit is not None and fit["restart"] == restart else None
        rows = _fit(
            soft, train, val, cfg, gen, "softmax", "softmax", cfg.softmax_iterations, cfg.softmax_lr,
            cfg.softmax_temperature, resume, save if ckpt is not None else None,
        )  # fmt: skip
        history = history + [{**row, "restart": restart} for row in rows]
        top = max(row["best_val_revenue"] for row in rows)
        if top > best_rev:
            best_state, best_rev = copy.deepcopy(soft.state_dict()), top
        if ckpt is not None:
            so_far = {"restarts": restart + 1, "best_state": best_state, "best_rev": best_rev, "history": history}
            ckpt.save({**carry, "softmax_done": so_far})
    best = copy.deepcopy(net).double()
    best.load_state_dict(best_state)
    return best.eval(), history


def validation_revenues(history: list[dict[str, Any]]) -> dict[str, float]:
    """The best validation revenue each deployment reached in a training ``history`` (rows of :func:`_fit`): both are
    exact revenues of DSIC auctions on the same validation profiles, so they compare directly."""
    best: dict[str, float] = {}
    for row in history:
        best[row["deployment"]] = max(best.get(row["deployment"], -math.inf), float(row["val_revenue"]))
    return best


def chosen_deployment(val_revenues: Mapping[str, float]) -> str:
    """The deployment a learner picks without any oracle: the highest validation revenue (ties: ``hard``, the
    report's own auction). Used where one MyersonNet must stand for the family, e.g. as RegretNet's teacher."""
    return max(sorted(val_revenues), key=lambda d: (val_revenues[d], d == "hard")) if val_revenues else "hard"


def config_dict(cfg: MyersonNetConfig) -> dict[str, Any]:
    return asdict(cfg)
