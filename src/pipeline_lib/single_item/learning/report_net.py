"""The report's net: two-phase training of the single-item neural mechanism (docs/methods.md#two-phase-net).

Phase 1 (imitation): minimise MSE(a, a*) + MSE(p, p*) against the *correct* truthful baseline (Myerson for
i.i.d. families, ironed for hetero; Vickrey for latent) so that phase 2 starts from a nearly truthful mechanism.

Phase 2: minimise  L = -rev + lambda_regret * R + lambda_mono * M  on minibatches, where

* rev = E[sum_i p_i(v)];
* R = E[(1/n) sum_i r_i], r_i = max(0, max_{b'} u_i(b'; v) - u_i(v_i; v)),
  u_i(b'; v) = a_i(b', v_-i) v_i - p_i(b', v_-i), each bidder's own utility gain. The inner max runs over K
  grid misreports spanning the whole value range (empirical quantiles 0..1 of the training values) followed by
  a few gradient-ascent steps from the best grid point, as in RegretNet's inner loop; gradients of L flow
  through u at the chosen misreports, not through them;
* M = E[(1/n) sum_i max(0, a_i(v_i - delta, v_-i) - a_i(v))]: own-bid monotonicity (Myerson's condition that
  a_i is non-decreasing in b_i), replacing the report's inverted rank-order term (defect D4).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from pipeline_lib.core.checkpoint import fingerprint, load_checkpoint, save_checkpoint
from pipeline_lib.core.config_blocks import from_mapping
from pipeline_lib.single_item.learning.minibatches import check_batch_size
from pipeline_lib.single_item.mechanisms.nets import SingleItemNet
from pipeline_lib.single_item.mechanisms.utility import deviation_utilities, own_outcomes

Tensor = torch.Tensor
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of both phases (report: batch 512, Adam 3e-4, 5 + 20 epochs). Phase 1 has its own batch
    size and learning rate: at the report's 3e-4 with batch 512 the imitation is far from converged after 5 epochs.
    """

    batch_size: int = 512
    lr: float = 3e-4
    phase1_epochs: int = 5
    phase1_batch_size: int = 128
    phase1_lr: float = 1e-3
    phase2_epochs: int = 20
    hidden: tuple[int, ...] = (64, 32, 16)
    regret_grid: int = 16
    regret_steps: int = 5
    regret_lr: float = 0.1
    mono_delta: float = 0.05
    val_monitor_profiles: int = 1000

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | None, key: str = "single_item.training") -> TrainConfig:
        """Strict (:func:`pipeline_lib.core.config_blocks.from_mapping`): an unknown key is an error naming it."""
        return from_mapping(cls, cfg, key, tuples=("hidden",))


@dataclass(frozen=True)
class Penalties:
    """The two weights Optuna tunes."""

    lambda_regret: float
    lambda_mono: float


@dataclass
class ValueStats:
    """Statistics of the training values the losses need: scale s (mean value), misreport grid, upper bound."""

    scale: float
    grid: Tensor
    upper: float

    @classmethod
    def from_train(cls, train: np.ndarray, k: int) -> ValueStats:
        pooled = np.asarray(train, np.float64).reshape(-1)
        grid = np.quantile(pooled, np.linspace(0.0, 1.0, k))
        return cls(float(max(pooled.mean(), 1e-6)), torch.as_tensor(grid, dtype=torch.float32), float(pooled.max()))


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch and numpy globally; returns a dedicated generator for minibatch order."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------------------
def training_regret(net, values: Tensor, stats: ValueStats, steps: int, lr: float) -> Tensor:
    """Per-bidder regret r_i (B, n): grid over K misreports, then ``steps`` sign-gradient ascent steps (step
    lr * s / t at step t) from the best grid point. The search runs without parameter gradients; the returned
    regret is differentiable in the network parameters at the selected misreport (Danskin: the gradient of a
    max is the gradient at the maximiser)."""
    b, n = values.shape
    grid = stats.grid.to(values)
    with torch.no_grad():
        best, arg = deviation_utilities(net, values, grid.expand(b, n, -1)).max(dim=2)
    chosen = grid[arg]
    if steps > 0:
        m = chosen.clone().unsqueeze(2).requires_grad_(True)
        for step in range(steps):
            with torch.enable_grad():
                (g,) = torch.autograd.grad(deviation_utilities(net, values, m).sum(), m)
            with torch.no_grad():
                m += lr * stats.scale / (step + 1) * g.sign()
                m.clamp_(0.0, stats.upper)
        with torch.no_grad():
            refined = deviation_utilities(net, values, m)[..., 0]
        chosen = torch.where(refined > best, m.detach()[..., 0], chosen)
    u_star = deviation_utilities(net, values, chosen.unsqueeze(2))[..., 0]
    alloc, pay = net(values)
    truthful = alloc * values - pay
    return (u_star - truthful).clamp_min(0.0)


def monotonicity_penalty(net, values: Tensor, delta: float) -> Tensor:
    """Per-bidder penalty max(0, a_i(v_i - delta, v_-i) - a_i(v)), shape (B, n): positive iff lowering one's own
    bid raises one's own allocation."""
    lowered = (values[:, :, None] - delta).clamp_min(0.0)
    a_low, _ = own_outcomes(net, values, lowered)
    a_true, _ = net(values)
    return (a_low[..., 0] - a_true).clamp_min(0.0)


def phase2_loss(net, values: Tensor, stats: ValueStats, cfg: TrainConfig, pen: Penalties) -> dict[str, Tensor]:
    """-rev + lambda_regret * mean regret + lambda_mono * mean monotonicity violation, with its parts."""
    _, pay = net(values)
    revenue = pay.sum(1).mean()
    regret = training_regret(net, values, stats, cfg.regret_steps, cfg.regret_lr).mean()
    mono = monotonicity_penalty(net, values, cfg.mono_delta * stats.scale).mean()
    loss = -revenue + pen.lambda_regret * regret + pen.lambda_mono * mono
    return {"loss": loss, "revenue": revenue, "regret": regret, "mono": mono}


def imitation_loss(net, values: Tensor, target: Callable[[Tensor], tuple[Tensor, Tensor]]) -> Tensor:
    """MSE(a, a*) + MSE(p, p*) against a target mechanism (phase 1)."""
    with torch.no_grad():
        a_t, p_t = target(values.double())
    a, p = net(values)
    return torch.nn.functional.mse_loss(a, a_t.to(a)) + torch.nn.functional.mse_loss(p, p_t.to(p))


# --------------------------------------------------------------------------------------------------------------
# Loops
# --------------------------------------------------------------------------------------------------------------
def minibatches(n_rows: int, batch_size: int, gen: torch.Generator) -> list[Tensor]:
    perm = torch.randperm(n_rows, generator=gen)
    return list(perm.split(batch_size))


@dataclass
class RunState:
    """What a (resumable) training run carries between epochs."""

    net: SingleItemNet
    optimizer: torch.optim.Optimizer
    gen: torch.Generator
    history: list[dict[str, Any]] = field(default_factory=list)


def build_net(n_bidders: int, cfg: TrainConfig, stats: ValueStats, device: torch.device) -> SingleItemNet:
    return SingleItemNet(n_bidders, cfg.hidden, input_scale=stats.scale).to(device)


def run_phase1(state: RunState, train: Tensor, target, cfg: TrainConfig, epochs: int) -> None:
    """``epochs`` epochs of imitation; appends one history row per epoch."""
    for _ in range(epochs):
        t0, total, count = time.perf_counter(), 0.0, 0
        state.net.train()
        for idx in minibatches(len(train), cfg.phase1_batch_size, state.gen):
            loss = imitation_loss(state.net, train[idx], target)
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.optimizer.step()
            total, count = total + float(loss.detach()) * len(idx), count + len(idx)
        epoch = sum(1 for h in state.history if h["phase"] == 1) + 1
        state.history.append({"phase": 1, "epoch": epoch, "loss": total / count, "seconds": time.perf_counter() - t0})
        log.info("phase 1 epoch %d: imitation loss %.5f", epoch, total / count)


def run_phase2_epoch(
    state: RunState, train: Tensor, val: Tensor, stats: ValueStats, cfg: TrainConfig, pen: Penalties
) -> dict[str, Any]:
    """One epoch of phase 2, then revenue and training-estimator regret on a validation subset."""
    t0 = time.perf_counter()
    sums = {"loss": 0.0, "revenue": 0.0, "regret": 0.0, "mono": 0.0}
    count = 0
    state.net.train()
    for idx in minibatches(len(train), cfg.batch_size, state.gen):
        parts = phase2_loss(state.net, train[idx], stats, cfg, pen)
        if not torch.isfinite(parts["loss"]):
            raise FloatingPointError("phase 2 loss is not finite")
        state.optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        state.optimizer.step()
        for k in sums:
            sums[k] += float(parts[k].detach()) * len(idx)
        count += len(idx)
    state.net.eval()
    monitor = val[: cfg.val_monitor_profiles]
    with torch.no_grad():
        val_rev = float(state.net(monitor)[1].sum(1).mean())
    with torch.no_grad():
        val_reg = float(training_regret(state.net, monitor, stats, cfg.regret_steps, cfg.regret_lr).mean())
    epoch = sum(1 for h in state.history if h["phase"] == 2) + 1
    row = {
        "phase": 2,
        "epoch": epoch,
        **{k: v / count for k, v in sums.items()},
        "val_revenue": val_rev,
        "val_regret": val_reg,
        "seconds": time.perf_counter() - t0,
    }
    state.history.append(row)
    log.info(
        "phase 2 epoch %d: loss %.4f rev %.4f regret %.5f mono %.5f | val rev %.4f regret %.5f",
        epoch,
        row["loss"],
        row["revenue"],
        row["regret"],
        row["mono"],
        val_rev,
        val_reg,
    )
    return row


def to_tensor(values: np.ndarray, device: torch.device) -> Tensor:
    return torch.as_tensor(np.asarray(values, np.float32), device=device)


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    out = asdict(cfg)
    out["hidden"] = list(cfg.hidden)
    return out


def finite_or_nan(x: float) -> float:
    return x if math.isfinite(x) else math.nan


# --------------------------------------------------------------------------------------------------------------
# Runs on values (the stages of pipeline_lib.stages.single_item read and write the files)
# --------------------------------------------------------------------------------------------------------------
def warm_start(
    values: np.ndarray,
    target: Callable[[Tensor], tuple[Tensor, Tensor]],
    cfg: TrainConfig,
    seed: int,
    device: torch.device,
) -> tuple[SingleItemNet, list[dict[str, Any]]]:
    """Phase 1: a fresh network imitating ``target`` (the family's correct baseline) on ``values`` (N, n)."""
    check_batch_size(cfg.phase1_batch_size, len(values), "single_item.training.phase1_batch_size")
    gen = seed_everything(seed)
    stats = ValueStats.from_train(values, cfg.regret_grid)
    net = build_net(values.shape[1], cfg, stats, device)
    state = RunState(net, torch.optim.Adam(net.parameters(), lr=cfg.phase1_lr), gen)
    run_phase1(state, to_tensor(values, device), target, cfg, cfg.phase1_epochs)
    return net, state.history


def train_phase2(
    net: SingleItemNet,
    train: np.ndarray,
    val: np.ndarray,
    cfg: TrainConfig,
    pen: Penalties,
    seed: int,
    ckpt_dir: str | os.PathLike | None,
    device: torch.device,
    identity: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Phase 2 from ``net`` (the warm start, trained in place) for ``cfg.phase2_epochs`` epochs; resumable per
    epoch from ``ckpt_dir`` when it holds a checkpoint of the same run (``identity`` + config + penalties + seed).
    Returns the phase-2 history rows."""
    check_batch_size(cfg.batch_size, len(train), "single_item.training.batch_size")
    gen = seed_everything(seed)
    stats = ValueStats.from_train(train, cfg.regret_grid)
    state = RunState(net, torch.optim.Adam(net.parameters(), lr=cfg.lr), gen)
    fp = fingerprint({"cfg": config_dict(cfg), "pen": asdict(pen), "seed": seed, **identity})
    saved = load_checkpoint(ckpt_dir, fp)
    if saved is not None:
        net.load_state_dict(saved["net"])
        state.optimizer.load_state_dict(saved["optimizer"])
        gen.set_state(saved["gen"])
        torch.set_rng_state(saved["torch_rng"])
        state.history = saved["history"]
        log.info("resumed from checkpoint after %d epochs", len(state.history))
    t_train, x_val = to_tensor(train, device), to_tensor(val, device)
    while len(state.history) < cfg.phase2_epochs:
        run_phase2_epoch(state, t_train, x_val, stats, cfg, pen)
        if ckpt_dir is not None:
            save_checkpoint(
                ckpt_dir,
                {
                    "fingerprint": fp,
                    "net": net.state_dict(),
                    "optimizer": state.optimizer.state_dict(),
                    "gen": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "history": state.history,
                },
            )
    return state.history
