"""Training and evaluation of the randomized affine maximizers (Lottery AMA and AMenuNet), shared by both.

Objective (docs/methods.md#lottery-ama): maximise the softmax-relaxed revenue
E_b [ sum_i p_i^soft(b) ] of :func:`pipeline_lib.combinatorial.affine_maximizer.soft_payments` with temperature tau
(AMenuNet: 500, never annealed) by Adam on minibatches drawn from the fixed training split. Every
``eval_every`` steps the hard-argmax revenue (Eq. 1, Eq. 2) on the validation split is recorded; with
``select_best`` the parameters with the best validation revenue are kept (else the last ones). The test split is
used once, at the end, with the hard argmax and exact AMA payments (so the reported mechanism is DSIC and IR).

Learning-rate schedule (AMenuNet): linear warm-up from ~0 to ``lr`` over ``warmup_steps`` steps, then ``lr``,
switched to the given values at the ``lr_milestones`` steps. Steps count gradient updates (AMenuNet's paper
counts outer steps of 32768 fresh samples = 16 minibatches of 2048, so its 2000 steps are 32000 here).

Resumption: every ``checkpoint_every`` steps the whole training state (parameters, Adam's moments, the minibatch
generator, the epoch's order and cursor, the relaxed revenues and history so far, the best parameters) is written
atomically by :mod:`pipeline_lib.core.checkpoint`; a killed run resumes from it to exactly the parameters of an
uninterrupted one (the checkpoint is keyed by the run's config, inputs and code, so any change starts afresh).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from pipeline_lib.combinatorial.affine_maximizer import Menu, hard_outcome, soft_revenue
from pipeline_lib.combinatorial.amenunet import AMenuNet
from pipeline_lib.combinatorial.lottery_ama import LotteryAMA
from pipeline_lib.core.checkpoint import fingerprint, load_checkpoint, save_checkpoint
from pipeline_lib.core.seeds import menu_run_seed
from pipeline_lib.vvca.evaluate import IR_TOL, RevenueAccumulator

METHODS = ("lottery_ama", "amenunet")
TRAIN_KEYS = ("steps", "batch_size", "lr", "temperature", "warmup_steps", "lr_milestones", "grad_clip")
MODEL_KEYS = {
    "lottery_ama": ("init_scale",),
    "amenunet": ("d_emb", "n_layer", "n_head", "d_hidden", "alloc_temperature"),
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation hyperparameters of one run."""

    steps: int
    batch_size: int
    lr: float
    temperature: float
    warmup_steps: int = 0
    lr_milestones: tuple[tuple[int, float], ...] = ()
    grad_clip: float | None = None
    eval_every: int = 100
    select_best: bool = True
    checkpoint_every: int | None = None  # steps between checkpoints (None: no checkpoints)

    @classmethod
    def from_mapping(
        cls, hp: Mapping[str, Any], *, eval_every: int, select_best: bool, checkpoint_every: int | None = None
    ) -> TrainConfig:
        milestones = tuple(sorted((int(step), float(lr)) for step, lr in hp.get("lr_milestones") or ()))
        return cls(
            steps=int(hp["steps"]),
            batch_size=int(hp["batch_size"]),
            lr=float(hp["lr"]),
            temperature=float(hp["temperature"]),
            warmup_steps=int(hp.get("warmup_steps", 0)),
            lr_milestones=milestones,
            grad_clip=None if hp.get("grad_clip") is None else float(hp["grad_clip"]),
            eval_every=int(eval_every),
            select_best=bool(select_best),
            checkpoint_every=None if checkpoint_every is None else int(checkpoint_every),
        )


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """lr at ``step`` (0-based): linear warm-up over ``warmup_steps`` then piecewise constant milestones."""
    lr = cfg.lr
    for start, value in cfg.lr_milestones:
        if step >= start:
            lr = value
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        lr = min(lr, cfg.lr * (step + 1) / cfg.warmup_steps)
    return lr


def build_model(method: str, n: int, m: int, menu_size: int, model_kwargs: Mapping[str, Any]) -> nn.Module:
    """A fresh Lottery AMA or AMenuNet (parameters drawn from torch's global generator)."""
    if method == "lottery_ama":
        return LotteryAMA(n, m, menu_size, **model_kwargs)
    if method == "amenunet":
        return AMenuNet(n, m, menu_size, **model_kwargs)
    raise ValueError(f"unknown randomized method {method!r}; expected one of {METHODS}")


def eval_chunk_size(menu_size: int, n: int, budget: int = 1 << 23) -> int:
    """Profiles per evaluation chunk so that a (chunk, K, n) float64 table stays within ``budget`` entries."""
    return max(1, budget // max(1, menu_size * n))


@torch.no_grad()
def evaluate_menu(menu: Menu, values: torch.Tensor) -> dict[str, Any]:
    """Hard-argmax AMA (Eq. 1, Eq. 2) in float64 on ``values`` (N, n, m): the summary of the one combinatorial
    evaluator (:class:`pipeline_lib.vvca.evaluate.RevenueAccumulator`: revenue, welfare, IR) plus the number of
    menu entries used."""
    menu64 = menu.detach().to(dtype=torch.float64)
    out = hard_outcome(values, menu64, chunk_size=eval_chunk_size(menu64.size, menu64.allocs.shape[1]))
    acc = RevenueAccumulator()
    acc.add(out.payments, out.values, IR_TOL[torch.float64])
    return {**acc.summary(), "menu_entries_used": int(torch.unique(out.choice).numel())}


@torch.no_grad()
def hard_revenue(menu: Menu, values: torch.Tensor) -> float:
    """Mean hard-argmax revenue sum_i p_i (float64)."""
    return evaluate_menu(menu, values)["revenue"]["mean"]


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam with the fused kernel where the build supports it (several times faster for many small tensors)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):  # pragma: no cover - builds without a fused Adam for this device
        return torch.optim.Adam(model.parameters(), lr=lr)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    bids: torch.Tensor,
    temperature: float,
    grad_clip: float | None = None,
) -> torch.Tensor:
    """One Adam ascent step on the relaxed revenue of a minibatch; returns that revenue (detached)."""
    revenue = soft_revenue(bids, model.menu(), temperature)
    optimizer.zero_grad(set_to_none=True)
    (-revenue).backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return revenue.detach()


@dataclass
class TrainResult:
    """What :func:`train_menu` returns: the history table and the selected parameters."""

    history: pd.DataFrame
    state_dict: dict[str, torch.Tensor]
    best_step: int
    val_revenue: float
    train_time_s: float
    resumed_from_step: int = 0


@dataclass(frozen=True)
class Checkpointing:
    """Where and under which key a run checkpoints: ``ckpt_dir`` (:func:`pipeline_lib.core.checkpoint.
    checkpoint_dir_for` of its output) and ``key`` (:func:`pipeline_lib.core.checkpoint.run_key` of its inputs)."""

    ckpt_dir: str
    key: str


def train_menu(
    model: nn.Module,
    train_values: torch.Tensor,
    val_values: torch.Tensor,
    cfg: TrainConfig,
    *,
    generator: torch.Generator,
    checkpointing: Checkpointing | None = None,
    identity: Mapping[str, Any] | None = None,
    on_step: Any = None,
    keep_final: bool = False,
) -> TrainResult:
    """Adam ascent on the softmax-relaxed revenue; hard-argmax validation every ``cfg.eval_every`` steps.

    ``train_values`` and ``val_values`` are (N, n, m) tensors on the model's device; minibatches are drawn
    without replacement within an epoch by ``generator`` (a CPU generator, so the order is device-independent).
    A batch larger than the training split is refused (it would be cut to the split). With ``checkpointing`` and
    ``cfg.checkpoint_every`` the state is saved every that many steps and a matching checkpoint (same ``identity``,
    config, data sizes and key) is resumed; ``keep_final`` also checkpoints the finished run, so that a later
    restart of the same job finds it done. ``on_step(step)`` is called after every step (tests).
    """
    device = train_values.device
    optimizer = make_optimizer(model, learning_rate(0, cfg))
    n_train = train_values.shape[0]
    if cfg.batch_size > n_train:
        raise ValueError(
            f"batch_size {cfg.batch_size} exceeds the training split's {n_train} profiles; lower the batch size or "
            "raise data.combinatorial.train"
        )
    batch = cfg.batch_size
    soft = torch.zeros(cfg.steps, device=device)
    rows: list[dict[str, Any]] = []
    best = (-math.inf, -1, copy.deepcopy(model.state_dict()))
    order = torch.randperm(n_train, generator=generator)
    cursor, first, spent = 0, 0, 0.0
    ckpt_dir = checkpointing.ckpt_dir if checkpointing is not None and cfg.checkpoint_every else None
    fp = fingerprint(
        {
            "identity": dict(identity or {}),
            "config": {**asdict(cfg), "checkpoint_every": None},  # the cadence does not change the result
            "n_train": n_train,
            "n_val": int(val_values.shape[0]),
            "key": checkpointing.key if checkpointing is not None else "",
        }
    )
    state = load_checkpoint(ckpt_dir, fp)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        order, cursor, first = state["order"], int(state["cursor"]), int(state["step"])
        soft[:first] = state["soft"].to(device)
        rows, spent = list(state["rows"]), float(state["elapsed"])
        best = (float(state["best_val"]), int(state["best_step"]), {k: v.to(device) for k, v in state["best"].items()})
        log.info("resumed %s from checkpoint at step %d", type(model).__name__, first)
    start = time.perf_counter() - spent

    def validate(step: int) -> None:
        nonlocal best
        model.eval()
        with torch.no_grad():
            val = hard_revenue(model.menu(), val_values)
        model.train()
        recent = soft[max(0, step - cfg.eval_every) : step]  # the steps since the last validation
        rows.append(
            {
                "step": step,
                "lr": learning_rate(max(step - 1, 0), cfg),
                "train_soft_revenue": float(recent.mean()) if recent.numel() else float("nan"),
                "val_revenue": val,
                "elapsed_s": time.perf_counter() - start,
            }
        )
        log.info("step %d: train soft revenue %.4f, val revenue %.4f", step, rows[-1]["train_soft_revenue"], val)
        if val > best[0] or not cfg.select_best:
            best = (val, step, copy.deepcopy(model.state_dict()))

    if state is None:
        validate(0)
    for step in range(first, cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        if cursor + batch > n_train:
            order, cursor = torch.randperm(n_train, generator=generator), 0
        idx = order[cursor : cursor + batch].to(device)
        cursor += batch
        soft[step] = train_step(model, optimizer, train_values[idx], cfg.temperature, cfg.grad_clip)
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            validate(step + 1)
        last = step + 1 == cfg.steps
        if ckpt_dir is not None and ((step + 1) % int(cfg.checkpoint_every) == 0 and not last or keep_final and last):
            save_checkpoint(
                ckpt_dir,
                {
                    "fingerprint": fp,
                    "step": step + 1,
                    "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "order": order,
                    "cursor": cursor,
                    "soft": soft[: step + 1].cpu(),
                    "rows": rows,
                    "elapsed": time.perf_counter() - start,
                    "best_val": best[0],
                    "best_step": best[1],
                    "best": {k: v.detach().cpu() for k, v in best[2].items()},
                },
            )
        if on_step is not None:
            on_step(step + 1)
    elapsed = time.perf_counter() - start
    history = pd.DataFrame(rows)
    return TrainResult(history, best[2], best[1], best[0], elapsed, first)


@dataclass(frozen=True)
class RandomizedSpec:
    """Everything one randomized run needs besides its data: which method on which setting, the candidate size s,
    the hyperparameters (with per-setting overrides applied), validation cadence and seeds."""

    method: str
    setting: str
    n: int
    m: int
    menu_size: int
    hyperparameters: Mapping[str, Any]
    eval_every: int
    select_best: bool
    base_seed: int
    seed_index: int
    reduced_budget: bool = False  # the tier trains below the paper's budget (marked in Table 2)
    checkpoint_every: int | None = None  # steps between resumable checkpoints (None: none)
    restarts: int = 1  # initialisations per seed; the best on validation is kept (train_randomized)


@dataclass
class TrainedMenu:
    """A finished run: the training result of the kept restart, the selected menu, the config as recorded, the
    run's seed, and every restart's best validation revenue (index = restart)."""

    result: TrainResult
    menu: Menu
    config: dict[str, Any]
    seed: np.random.SeedSequence
    restart: int = 0
    restart_val_revenues: tuple[float, ...] = ()


def restart_checkpointing(checkpointing: Checkpointing | None, restart: int, restarts: int) -> Checkpointing | None:
    """Where restart ``restart`` of ``restarts`` checkpoints: the run's folder itself for a single start (as
    before restarts existed), else its sub-folder ``restart<r>``."""
    if checkpointing is None or restarts == 1:
        return checkpointing
    return Checkpointing(str(Path(checkpointing.ckpt_dir) / f"restart{restart}"), checkpointing.key)


def train_randomized(
    spec: RandomizedSpec,
    train_values: torch.Tensor,
    val_values: torch.Tensor,
    checkpointing: Checkpointing | None = None,
    on_step: Any = None,
) -> TrainedMenu:
    """Build the model from its run seed, train it (:func:`train_menu`, resuming a matching checkpoint under
    ``checkpointing``) and return the selected menu.

    With ``spec.restarts`` = R > 1 the seed trains R initialisations, each with its own minibatch order: restart r
    draws its initialisation and batch seeds from words 2r and 2r + 1 of the run seed's state (restart 0 is the
    single run's, bit for bit), and the restart with the best validation revenue is kept (ties: the earliest).
    A restart that stalls in a poor local optimum (Lottery AMA on 2x2(A): docs/methods.md#randomized-own-budget)
    then costs time, not the seed's result; the test split is not read. ``train_values`` / ``val_values``
    (N, n, m) live on the device the model should use.
    """
    method, hyperparameters = spec.method, spec.hyperparameters
    if method not in METHODS:
        raise ValueError(f"unknown randomized method {method!r}; expected one of {METHODS}")
    unknown = set(hyperparameters) - set(TRAIN_KEYS) - set(MODEL_KEYS[method])
    if unknown:
        raise ValueError(f"{method}: unknown hyperparameters {sorted(unknown)}")
    if spec.restarts < 1:
        raise ValueError(f"{method}: restarts must be at least 1, got {spec.restarts}")
    ss = menu_run_seed(spec.base_seed, spec.setting, method, spec.seed_index)
    words = [int(x) for x in ss.generate_state(2 * spec.restarts)]
    cfg = TrainConfig.from_mapping(
        hyperparameters,
        eval_every=spec.eval_every,
        select_best=spec.select_best,
        checkpoint_every=spec.checkpoint_every,
    )
    model_kwargs = {k: hyperparameters[k] for k in MODEL_KEYS[method] if k in hyperparameters}
    log.info("%s on %s (n=%d, m=%d, s=%d), %s", method, spec.setting, spec.n, spec.m, spec.menu_size, cfg)
    identity = {"spec": asdict(spec), "seed": [ss.entropy, list(ss.spawn_key)]}
    identity["spec"].pop("checkpoint_every")  # where the run saves does not change what it computes
    identity["spec"].pop("restarts")  # restart r computes the same whatever the number of restarts
    best: tuple[TrainResult, nn.Module, int] | None = None
    vals: list[float] = []
    for r in range(spec.restarts):
        torch.manual_seed(words[2 * r])
        generator = torch.Generator().manual_seed(words[2 * r + 1])
        model = build_model(method, spec.n, spec.m, spec.menu_size, model_kwargs).to(train_values.device)
        result = train_menu(
            model, train_values, val_values, cfg, generator=generator,
            checkpointing=restart_checkpointing(checkpointing, r, spec.restarts),
            identity={**identity, "restart": r} if r else identity, on_step=on_step, keep_final=spec.restarts > 1,
        )  # fmt: skip
        vals.append(result.val_revenue)
        if spec.restarts > 1:
            log.info("%s restart %d: val revenue %.4f at step %d", method, r, result.val_revenue, result.best_step)
        if best is None or result.val_revenue > best[0].val_revenue:
            best = (result, model, r)
    result, model, kept = best
    model.load_state_dict(result.state_dict)
    model.eval()
    with torch.no_grad():
        menu = model.menu().detach()
    config = {**asdict(cfg), "lr_milestones": [list(x) for x in cfg.lr_milestones], **model_kwargs}
    config.pop("checkpoint_every")
    config.update({"menu_size": spec.menu_size, "n": spec.n, "m": spec.m, "restarts": spec.restarts})
    return TrainedMenu(result, menu, config, ss, kept, tuple(vals))


def menu_from_payload(payload: Mapping[str, Any], device: torch.device | str = "cpu") -> Menu:
    """The selected menu of a saved run (``params.pt`` of :func:`pipeline_lib.stages.combinatorial.randomized_run`)."""
    return Menu(**{k: torch.as_tensor(v).to(device) for k, v in payload["menu"].items()})
