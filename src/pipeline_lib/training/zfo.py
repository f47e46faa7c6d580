"""ZFO-VVCA (Algorithm 3), its FO-VVCA ablation and the BBBVVCA baseline: one training loop, three directions.

Math (shared/spec/zfo_vvca.md, Part A items 1-5, Part B sections 3, 5, 6). The VVCA parameters theta = (alpha,
lambda) (weights w = exp(alpha), a boost for every bidder and bundle, the empty one included) are an affine
function of free parameters phi (:class:`Parametrisation`: the identity for the full mechanism, a tying for the
Fig. 2 case study). On a minibatch D_t the empirical revenue splits as (Eq. 5)

    Rev = Rev1 + Rev2,   Rev1 = sum_i (1/w_i) [MAW^(-i) - MAW],   Rev2 = sum_i b_i(A*_i),

and the ascent direction of each method is

* ``zfo_vvca``: g = grad Rev1 (autograd through the affine welfares gathered at the frozen argmax allocations,
  i.e. Danskin's theorem) + the Gaussian-smoothing estimate of grad Rev2_sigma (Eq. 8, 9):

      g2 = (1/q) sum_j [Rev2(phi + sigma u_j) - Rev2(phi)] / sigma * u_j,   u_j ~ N(0, I_d),

  forward differences with the shared base point Rev2(phi) (free: A* is already known from the Rev1 pass), all
  q + 1 evaluations on the same minibatch; ``estimator: central`` uses [Rev2(phi + sigma u) - Rev2(phi - sigma
  u)] / (2 sigma) instead (2q dynamic programs);
* ``fo_vvca``: g = grad Rev1 only (the ablation of the paper);
* ``bbbvvca``: the per-bidder-bundle fixed-allocation direction of :mod:`pipeline_lib.training.bbb` (approximate).

The update is Adam ascent (``optimizer: adam``, the default) or plain gradient ascent (``optimizer: sgd``),
initialised at VCG (phi = 0). Minibatches are drawn from a fixed training set; the validation revenue is recorded
every ``eval_every`` iterations and the state (parameters, optimizer, random generators, history) is checkpointed
every ``checkpoint_every`` iterations so that a killed run resumes to the same final parameters.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pipeline_lib.data import read_valuations
from pipeline_lib.mechanisms.vvca import (
    VVCAParams,
    bundle_values_at,
    evaluate_vvca,
    rev1_surrogate,
    rev2_batched,
)
from pipeline_lib.provenance import atomic_path, package_versions, write_json
from pipeline_lib.settings import stable_key
from pipeline_lib.stage import set_cpu_threads  # noqa: F401 - re-exported for stage scripts and tests
from pipeline_lib.training.bbb import LABEL as BBB_LABEL
from pipeline_lib.training.bbb import bbb_objective
from pipeline_lib.training.checkpoint import fingerprint, load_checkpoint, remove_checkpoint, save_checkpoint
from pipeline_lib.valuations.combinatorial import additive_bundle_values

METHODS = ("zfo_vvca", "fo_vvca", "bbbvvca")
METHOD_LABELS = {"zfo_vvca": "ZFO-VVCA", "fo_vvca": "FO-VVCA", "bbbvvca": BBB_LABEL}
ESTIMATORS = ("forward", "central")
OPTIMIZERS = ("adam", "sgd")
SELECTIONS = ("last", "best_val")
RUN_STREAM = 7  # spawn-key slot of training runs (datasets use 0..2 and 99, see pipeline_lib.settings)
HISTORY_COLUMNS = ("iteration", "train_revenue", "rev1", "rev2", "val_revenue")
log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one run: Table 3 (lr, q, sigma, iterations, batch_size) plus the loop's options."""

    lr: float
    q: int
    sigma: float
    iterations: int
    batch_size: int
    method: str = "zfo_vvca"
    estimator: str = "forward"
    optimizer: str = "adam"
    selection: str = "last"
    eval_every: int = 100
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        checks = {
            "method": (self.method, METHODS),
            "estimator": (self.estimator, ESTIMATORS),
            "optimizer": (self.optimizer, OPTIMIZERS),
            "selection": (self.selection, SELECTIONS),
        }
        for key, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{key} must be one of {allowed}, got {value!r}")
        for key in ("q", "iterations", "batch_size", "eval_every", "checkpoint_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.lr <= 0 or self.sigma <= 0:
            raise ValueError(f"lr and sigma must be positive, got {self.lr}, {self.sigma}")

    @property
    def uses_zeroth_order(self) -> bool:
        return self.method == "zfo_vvca"


TRAINING_KEYS = ("estimator", "optimizer", "selection", "eval_every", "checkpoint_every")
OVERRIDE_KEYS = ("lr", "q", "sigma", "iterations", "batch_size", *TRAINING_KEYS)


def resolve_config(
    method: str,
    table3: dict[str, Any],
    training: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    max_iterations: int | None = None,
    max_batch_size: int | None = None,
) -> TrainConfig:
    """The hyperparameters of one (setting, method) run, by precedence.

    Table 3 of the setting < global ``training`` options < ``overrides`` of the method; then the tier caps
    ``max_iterations`` and ``max_batch_size`` (quick and smoke tiers) bound the result.
    """
    values: dict[str, Any] = {k: table3[k] for k in ("lr", "q", "sigma", "iterations", "batch_size")}
    values.update({k: v for k, v in (training or {}).items() if k in TRAINING_KEYS and v is not None})
    unknown = set(overrides or {}) - set(OVERRIDE_KEYS)
    if unknown:
        raise ValueError(f"unknown override keys {sorted(unknown)} for {method}; allowed: {OVERRIDE_KEYS}")
    values.update(overrides or {})
    if max_iterations is not None:
        values["iterations"] = min(int(values["iterations"]), int(max_iterations))
    if max_batch_size is not None:
        values["batch_size"] = min(int(values["batch_size"]), int(max_batch_size))
    return TrainConfig(method=method, **values)


# ------------------------------------------------------------------------------------------ parametrisation
@dataclass(frozen=True)
class Parametrisation:
    """theta = (alpha, lambda) as a gather of free parameters phi (d,): alpha_i = phi[alpha_index[i]],
    lambda_i(S) = phi[boost_index[i, S]], where index -1 means the constant 0.

    ``full``: phi = [alpha, lambda.flatten()] (d = n + n 2^m, Part A item 1). ``by_bundle_size``: w = 1 and
    lambda_i(S) = x_{|S|} shared by all bidders (d = m + 1; for 2x2 the three families empty / single item / both
    items of the Fig. 2 case study). phi = 0 is VCG in both.
    """

    n: int
    m: int
    alpha_index: torch.Tensor  # (n,) long
    boost_index: torch.Tensor  # (n, 2^m) long
    dim: int
    name: str = "full"
    labels: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def full(cls, n: int, m: int) -> Parametrisation:
        size = 2**m
        alpha_index = torch.arange(n)
        boost_index = n + torch.arange(n * size).reshape(n, size)
        labels = tuple(f"alpha_{i}" for i in range(n)) + tuple(
            f"lambda_{i}({s})" for i in range(n) for s in range(size)
        )
        return cls(n, m, alpha_index, boost_index, n + n * size, "full", labels)

    @classmethod
    def by_bundle_size(cls, n: int, m: int) -> Parametrisation:
        sizes = torch.tensor([bin(s).count("1") for s in range(2**m)])
        return cls(
            n,
            m,
            torch.full((n,), -1),
            sizes.expand(n, -1).clone(),
            m + 1,
            "by_bundle_size",
            tuple(f"lambda(|S|={c})" for c in range(m + 1)),
        )

    def _gather(self, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ext = torch.cat([phi, phi.new_zeros(*phi.shape[:-1], 1)], dim=-1)  # index -1 -> the appended 0
        return ext[..., self.alpha_index.to(phi.device)], ext[..., self.boost_index.to(phi.device)]

    def params(self, phi: torch.Tensor) -> VVCAParams:
        """VVCA parameters of one phi (d,), differentiable in phi."""
        alpha, boosts = self._gather(phi)
        return VVCAParams(alpha, boosts)

    def batched(self, phis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """alphas (q, n) and boosts (q, n, 2^m) of q parameter vectors phis (q, d)."""
        return self._gather(phis)


# ------------------------------------------------------------------------------------------------ seeding
def run_seed_sequence(base_seed: int, setting: str, seed_index: int) -> np.random.SeedSequence:
    """Seed of one training run: entropy = config seed, spawn key = (crc32(setting), RUN_STREAM, seed index).

    The method is deliberately not part of the key: ZFO-, FO- and BBBVVCA of one (setting, seed) see the same
    minibatch sequence (common random numbers), and only ZFO draws directions, from a separate generator.
    """
    return np.random.SeedSequence(entropy=base_seed, spawn_key=(stable_key(setting), RUN_STREAM, seed_index))


def make_generators(seq: np.random.SeedSequence) -> tuple[torch.Generator, torch.Generator]:
    """Two independent CPU generators: minibatch indices, zeroth-order directions.

    The children are built from (entropy, spawn_key + (k,)) explicitly rather than with ``seq.spawn``, which
    advances a counter inside ``seq``: the same sequence must give the same generators every time.
    """
    gens = []
    for k in range(2):
        child = np.random.SeedSequence(entropy=seq.entropy, spawn_key=(*seq.spawn_key, k))
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(child.generate_state(1, dtype=np.uint64)[0]))
        gens.append(gen)
    return gens[0], gens[1]


def seed_record(seq: np.random.SeedSequence) -> dict[str, Any]:
    return {"entropy": seq.entropy, "spawn_key": list(seq.spawn_key)}


# --------------------------------------------------------------------------------------------------- data
class BidSource:
    """A fixed set of valuation profiles held compactly (item values when additive) and expanded to bundle bids
    (B, n, 2^m) on demand, so that large settings never materialise the whole 2^m table."""

    def __init__(self, values: np.ndarray | torch.Tensor, additive: bool, device: torch.device | str = "cpu"):
        self.values = torch.as_tensor(np.asarray(values, dtype=np.float32)).to(device)
        self.additive = additive
        self.device = torch.device(device)

    @classmethod
    def from_valuation_set(cls, vs: Any, device: torch.device | str = "cpu") -> BidSource:
        return cls(vs.values, vs.meta["valuation"] == "additive", device)

    def __len__(self) -> int:
        return self.values.shape[0]

    def bids(self, index: torch.Tensor | slice) -> torch.Tensor:
        block = self.values[index]
        return additive_bundle_values(block) if self.additive else block

    def chunks(self, chunk_size: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(self), chunk_size):
            yield self.bids(slice(start, start + chunk_size))


# ------------------------------------------------------------------------------------------- estimators
def zeroth_order_rev2_gradient(
    bids: torch.Tensor,
    parametrisation: Parametrisation,
    phi: torch.Tensor,
    directions: torch.Tensor,
    sigma: float,
    base: torch.Tensor | None = None,
    estimator: str = "forward",
) -> torch.Tensor:
    """Eq. 9: the Gaussian-smoothing estimate of grad Rev2_sigma at phi from q directions (q, d).

    forward: (1/q) sum_j [Rev2(phi + sigma u_j) - base] / sigma u_j with base = Rev2(phi) (shared base point);
    central: (1/q) sum_j [Rev2(phi + sigma u_j) - Rev2(phi - sigma u_j)] / (2 sigma) u_j.
    All evaluations use the same minibatch ``bids``; Rev2 is the batch mean of sum_i b_i(A*_i).
    """
    q = directions.shape[0]
    phi = phi.detach()
    if estimator == "forward":
        if base is None:
            alphas, boosts = parametrisation.batched(phi.unsqueeze(0))
            base = rev2_batched(bids, alphas, boosts)[0]
        alphas, boosts = parametrisation.batched(phi + sigma * directions)
        diffs = (rev2_batched(bids, alphas, boosts) - base) / sigma
    elif estimator == "central":
        stacked = torch.cat([phi + sigma * directions, phi - sigma * directions])
        alphas, boosts = parametrisation.batched(stacked)
        values = rev2_batched(bids, alphas, boosts)
        diffs = (values[:q] - values[q:]) / (2 * sigma)
    else:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    return (diffs.to(directions.dtype) @ directions) / q


@dataclass
class StepResult:
    """Ascent direction and the minibatch statistics at the parameters before the update."""

    direction: torch.Tensor
    revenue: float
    rev1: float
    rev2: float


def ascent_direction(
    method: str,
    bids: torch.Tensor,
    parametrisation: Parametrisation,
    phi: torch.Tensor,
    directions: torch.Tensor | None = None,
    sigma: float = 0.01,
    estimator: str = "forward",
) -> StepResult:
    """The update direction g of ``method`` at phi on the minibatch ``bids`` (see the module docstring)."""
    params = parametrisation.params(phi)
    outcome = evaluate_vvca(bids, params)  # A*, A^(-i) and the revenue split, no grad (Algorithm 2)
    if method == "bbbvvca":
        objective = bbb_objective(bids, params, outcome)
    else:
        objective = rev1_surrogate(bids, params, outcome)  # Danskin gradient of Rev1
    (grad,) = torch.autograd.grad(objective, phi)
    rev2_base = outcome.rev2.mean()
    if method == "zfo_vvca":
        if directions is None:
            raise ValueError("zfo_vvca needs the q random directions")
        grad = grad + zeroth_order_rev2_gradient(
            bids, parametrisation, phi, directions, sigma, base=rev2_base, estimator=estimator
        )
    return StepResult(grad, float(outcome.revenue.mean()), float(outcome.rev1.mean()), float(rev2_base))


# ----------------------------------------------------------------------------------------------- evaluate
@torch.no_grad()
def evaluate_on(source: BidSource, params: VVCAParams, chunk_size: int = 8192, ir_tol: float = 1e-5) -> dict:
    """Exact test-time evaluation (DP argmax, Algorithm 2): revenue mean and standard error over profiles,
    mean welfare sum_i b_i(A*_i), and the number of (profile, bidder) pairs violating IR (p_i > b_i(A*_i))."""
    params = params.detach()
    revenues, welfares, violations = [], [], 0
    for bids in source.chunks(chunk_size):
        out = evaluate_vvca(bids, params)
        value = bundle_values_at(bids, out.alloc)
        violations += int((out.payments > value + ir_tol * (1.0 + value.abs())).sum())
        revenues.append(out.revenue.double().cpu())
        welfares.append(out.welfare.double().cpu())
    rev = torch.cat(revenues)
    n = rev.numel()
    se = float(rev.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("nan")
    return {
        "mean": float(rev.mean()),
        "se": se,
        "n_profiles": n,
        "welfare": float(torch.cat(welfares).mean()),
        "ir_violations": violations,
    }


# -------------------------------------------------------------------------------------------------- train
@dataclass
class TrainResult:
    """Final (selected) parameters, per-iteration history rows and bookkeeping of one training run."""

    phi: torch.Tensor
    history: list[dict[str, float]]
    train_seconds: float
    resumed_from: int
    best_val: float | None = None
    last_phi: torch.Tensor | None = None  # the last iterate (differs from phi under selection best_val)


def _make_optimizer(cfg: TrainConfig, phi: torch.Tensor) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam([phi], lr=cfg.lr, maximize=True)
    return torch.optim.SGD([phi], lr=cfg.lr, maximize=True)


def train(
    train_source: BidSource,
    parametrisation: Parametrisation,
    cfg: TrainConfig,
    seed_seq: np.random.SeedSequence,
    val_source: BidSource | None = None,
    ckpt_dir: str | None = None,
    progress: bool = True,
    on_iteration: Callable[[int, torch.Tensor], None] | None = None,
    init_phi: torch.Tensor | None = None,
) -> TrainResult:
    """Algorithm 3 (or its FO / BBB variants) from VCG, or from ``init_phi`` when given (ZFO-VVCA+ starts, see
    :mod:`pipeline_lib.vvca.starts`); resumes from ``ckpt_dir`` when it holds a checkpoint of the same run.

    ``init_phi`` (d,) enters the checkpoint fingerprint (as a SHA-256 of its float32 bytes) only when given, so
    runs from VCG keep their fingerprints.

    ``on_iteration(t, phi)`` is called after iteration t's update (and its checkpoint, if any): the Fig. 2 case
    study records the trajectory with it, tests use it to kill a run midway.
    """
    device = train_source.device
    batch_gen, dir_gen = make_generators(seed_seq)
    if init_phi is None:
        phi = torch.zeros(parametrisation.dim, device=device, requires_grad=True)
    else:
        if tuple(init_phi.shape) != (parametrisation.dim,):
            raise ValueError(f"init_phi must have shape ({parametrisation.dim},), got {tuple(init_phi.shape)}")
        phi = init_phi.detach().to(device=device, dtype=torch.float32).clone().requires_grad_(True)
    optimizer = _make_optimizer(cfg, phi)
    history: list[dict[str, float]] = []
    best: tuple[float, torch.Tensor] | None = None
    start, elapsed = 0, 0.0
    run_key = {
        "cfg": asdict(cfg),
        "seed": seed_record(seed_seq),
        "parametrisation": parametrisation.name,
        "n": parametrisation.n,
        "m": parametrisation.m,
        "n_train": len(train_source),
        "n_val": len(val_source) if val_source is not None else 0,
    }
    if init_phi is not None:
        run_key["init_phi"] = hashlib.sha256(phi.detach().cpu().numpy().tobytes()).hexdigest()
    fp = fingerprint(run_key)
    state = load_checkpoint(ckpt_dir, fp)
    if state is not None:
        with torch.no_grad():
            phi.copy_(state["phi"].to(device))
        optimizer.load_state_dict(state["optimizer"])
        batch_gen.set_state(state["batch_gen"])
        dir_gen.set_state(state["dir_gen"])
        history = state["history"]
        start, elapsed = state["iteration"], state["elapsed"]
        if state["best"] is not None:
            best = (state["best"][0], state["best"][1].to(device))
        log.info("resumed %s from checkpoint at iteration %d", cfg.method, start)

    def validate() -> float:
        val = evaluate_on(val_source, parametrisation.params(phi.detach()))["mean"]
        nonlocal best
        if best is None or val > best[0]:
            best = (val, phi.detach().clone())
        return val

    if start == 0 and val_source is not None:
        history.append(
            {"iteration": 0, "train_revenue": math.nan, "rev1": math.nan, "rev2": math.nan, "val_revenue": validate()}
        )

    n_train = len(train_source)
    t0 = time.perf_counter()
    bar = tqdm(
        range(start + 1, cfg.iterations + 1),
        initial=start,
        total=cfg.iterations,
        file=sys.stderr,
        disable=not progress,
        mininterval=10.0,
        desc=cfg.method,
        ascii=True,
    )
    for t in bar:
        index = torch.randperm(n_train, generator=batch_gen)[: cfg.batch_size].to(device)
        directions = None
        if cfg.uses_zeroth_order:
            directions = torch.randn(cfg.q, parametrisation.dim, generator=dir_gen).to(device)
        step = ascent_direction(
            cfg.method, train_source.bids(index), parametrisation, phi, directions, cfg.sigma, cfg.estimator
        )
        optimizer.zero_grad(set_to_none=True)
        phi.grad = step.direction
        optimizer.step()
        row = {
            "iteration": t,
            "train_revenue": step.revenue,
            "rev1": step.rev1,
            "rev2": step.rev2,
            "val_revenue": math.nan,
        }
        if val_source is not None and (t % cfg.eval_every == 0 or t == cfg.iterations):
            row["val_revenue"] = validate()
            bar.set_postfix(val=f"{row['val_revenue']:.4f}", refresh=False)
        history.append(row)
        if ckpt_dir is not None and (t % cfg.checkpoint_every == 0) and t < cfg.iterations:
            save_checkpoint(
                ckpt_dir,
                {
                    "fingerprint": fp,
                    "iteration": t,
                    "phi": phi.detach().cpu(),
                    "optimizer": optimizer.state_dict(),
                    "batch_gen": batch_gen.get_state(),
                    "dir_gen": dir_gen.get_state(),
                    "history": history,
                    "elapsed": elapsed + time.perf_counter() - t0,
                    "best": None if best is None else (best[0], best[1].cpu()),
                },
            )
        if on_iteration is not None:
            on_iteration(t, phi.detach())
    bar.close()
    elapsed += time.perf_counter() - t0
    final = phi.detach().clone()
    if cfg.selection == "best_val" and best is not None:
        final = best[1]
    return TrainResult(final, history, elapsed, start, None if best is None else best[0], phi.detach().clone())


# ---------------------------------------------------------------------------------------------- one run
def history_frame(rows: list[dict[str, float]]) -> pd.DataFrame:
    """History rows as a DataFrame with the fixed column order (iteration 0 = the VCG initialisation)."""
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return frame.astype({"iteration": "int64"})


def run_training(
    *,
    setting: str,
    n: int,
    m: int,
    method: str,
    seed_index: int,
    base_seed: int,
    cfg: TrainConfig,
    train_path: str,
    val_path: str,
    test_path: str,
    out_params: str,
    out_history: str,
    out_metrics: str,
    ckpt_dir: str | None,
    device: torch.device,
    device_name: str,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one (setting, method, seed), evaluate it exactly on the test set and write the three outputs.

    Outputs (all written atomically): ``params.pt`` ({alpha, boosts, ...} on the CPU), ``history.parquet``
    (:data:`HISTORY_COLUMNS`) and ``metrics.json`` (the contract of .agent_status/metrics_contract.txt: setting,
    method, seed, run_seed, test_revenue {mean, se, n_profiles}, welfare, ir_violations, wall_time_s, device,
    config, versions).
    """
    if method != cfg.method:
        raise ValueError(f"method {method!r} but config for {cfg.method!r}")
    wall0 = time.perf_counter()
    sources = {}
    for split, path in (("train", train_path), ("val", val_path), ("test", test_path)):
        vs = read_valuations(path, setting=setting, split=split, n=n, m=m)
        sources[split] = BidSource.from_valuation_set(vs, device)
    seq = run_seed_sequence(base_seed, setting, seed_index)
    parametrisation = Parametrisation.full(n, m)
    log.info("training %s on %s seed %d: %s on %s", method, setting, seed_index, asdict(cfg), device_name)
    result = train(sources["train"], parametrisation, cfg, seq, sources["val"], ckpt_dir, progress)
    params = parametrisation.params(result.phi)
    test = evaluate_on(sources["test"], params)
    test_last = test
    if result.last_phi is not None and not torch.equal(result.last_phi, result.phi):
        test_last = evaluate_on(sources["test"], parametrisation.params(result.last_phi))
    wall = time.perf_counter() - wall0
    payload = {
        "alpha": params.alpha.detach().cpu(),
        "boosts": params.boosts.detach().cpu(),
        "setting": setting,
        "method": method,
        "seed": seed_index,
        "n": n,
        "m": m,
    }
    with atomic_path(out_params) as tmp:
        torch.save(payload, tmp)
    with atomic_path(out_history) as tmp:
        history_frame(result.history).to_parquet(tmp, index=False)
    metrics = {
        "setting": setting,
        "method": method,
        "seed": seed_index,
        "run_seed": seed_record(seq),
        "test_revenue": {"mean": test["mean"], "se": test["se"], "n_profiles": test["n_profiles"]},
        "test_revenue_last_iterate": {k: test_last[k] for k in ("mean", "se", "n_profiles")},
        "welfare": test["welfare"],
        "ir_violations": test["ir_violations"],
        "val_revenue": next(
            (r["val_revenue"] for r in reversed(result.history) if not math.isnan(r["val_revenue"])), None
        ),
        "best_val_revenue": result.best_val,
        "train_seconds": result.train_seconds,
        "wall_time_s": wall,
        "resumed_from_iteration": result.resumed_from,
        "device": device_name,
        "config": asdict(cfg),
        "data": {split: len(source) for split, source in sources.items()},
        "base_seed": base_seed,
        "n": n,
        "m": m,
        "approximate": method == "bbbvvca",
        "label": METHOD_LABELS[method],
        "versions": package_versions(),
    }
    write_json(out_metrics, metrics)
    remove_checkpoint(ckpt_dir)
    log.info("test revenue %.4f +- %.4f (%d profiles), wall %.1fs", test["mean"], test["se"], test["n_profiles"], wall)
    return metrics
