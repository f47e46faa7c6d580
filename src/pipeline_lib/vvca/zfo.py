"""ZFO-VVCA (Algorithm 3), its FO-VVCA ablation and the BBBVVCA baseline: one training loop, three directions.

Math (docs/methods.md#zfo-vvca; the paper's Eqs. 5, 8, 9 and Algorithm 3). The VVCA parameters theta = (alpha,
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
* ``bbbvvca``: the per-bidder-bundle fixed-allocation direction of :mod:`pipeline_lib.vvca.bbb` (approximate).

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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pipeline_lib.core.checkpoint import fingerprint, load_checkpoint, save_checkpoint
from pipeline_lib.core.seeds import seed_record, torch_generators
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig
from pipeline_lib.vvca.estimators import StepResult, ascent_direction
from pipeline_lib.vvca.evaluate import evaluate_on
from pipeline_lib.vvca.parametrisation import Parametrisation

HISTORY_COLUMNS = ("iteration", "train_revenue", "rev1", "rev2", "val_revenue")
log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """Final (selected) parameters, per-iteration history rows and bookkeeping of one training run."""

    phi: torch.Tensor
    history: list[dict[str, float]]
    train_seconds: float
    resumed_from: int
    best_val: float | None = None
    last_phi: torch.Tensor | None = None  # the last iterate (differs from phi under selection best_val)


@runtime_checkable
class MechanismFamily(Protocol):
    """Any other parametrised family Algorithm 3 trains (e.g. the AMA over every allocation,
    :mod:`pipeline_lib.combinatorial.ama_family`): its dimension d, name and sizes, the ascent direction of
    ``method`` on a minibatch (grad Rev1 + the Eq. 9 estimate of grad Rev2_sigma) and the exact revenue of phi on a
    source. A VVCA :class:`Parametrisation` is trained through :func:`ascent_direction` and :func:`evaluate_on`."""

    dim: int
    name: str
    n: int
    m: int

    def ascent(
        self,
        method: str,
        bids: torch.Tensor,
        phi: torch.Tensor,
        directions: torch.Tensor | None,
        sigma: float,
        estimator: str,
    ) -> StepResult: ...

    def revenue(self, source: BidSource, phi: torch.Tensor) -> float: ...


def _make_optimizer(cfg: TrainConfig, phi: torch.Tensor) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam([phi], lr=cfg.lr, maximize=True)
    return torch.optim.SGD([phi], lr=cfg.lr, maximize=True)


def train(
    train_source: BidSource,
    parametrisation: Parametrisation | MechanismFamily,
    cfg: TrainConfig,
    seed_seq: np.random.SeedSequence,
    val_source: BidSource | None = None,
    ckpt_dir: str | None = None,
    progress: bool = True,
    on_iteration: Callable[[int, torch.Tensor], None] | None = None,
    init_phi: torch.Tensor | None = None,
    run_key: str = "",
) -> TrainResult:
    """Algorithm 3 (or its FO / BBB variants) from VCG, or from ``init_phi`` when given (ZFO-VVCA+ starts, see
    :mod:`pipeline_lib.combinatorial.starts`); resumes from ``ckpt_dir`` when it holds a checkpoint of the same run
    (config, seed, sizes and ``run_key``: :func:`pipeline_lib.core.checkpoint.run_key` of the inputs).

    ``init_phi`` (d,) enters the checkpoint fingerprint (as a SHA-256 of its float32 bytes) only when given.

    ``parametrisation`` is a VVCA's :class:`Parametrisation` or any :class:`MechanismFamily`.

    ``on_iteration(t, phi)`` is called after iteration t's update (and its checkpoint, if any): the Fig. 2 case
    study records the trajectory with it, tests use it to kill a run midway.
    """
    device = train_source.device
    batch_gen, dir_gen = torch_generators(seed_seq, 2)
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
    identity = {
        "cfg": asdict(cfg),
        "seed": seed_record(seed_seq),
        "parametrisation": parametrisation.name,
        "n": parametrisation.n,
        "m": parametrisation.m,
        "n_train": len(train_source),
        "n_val": len(val_source) if val_source is not None else 0,
        "run_key": run_key,
    }
    if init_phi is not None:
        identity["init_phi"] = hashlib.sha256(phi.detach().cpu().numpy().tobytes()).hexdigest()
    fp = fingerprint(identity)
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

    family = parametrisation if isinstance(parametrisation, MechanismFamily) else None

    def validate() -> float:
        if family is not None:
            val = family.revenue(val_source, phi.detach())
        else:
            val = evaluate_on(val_source, parametrisation.params(phi.detach()))["revenue"]["mean"]
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
        bids = train_source.bids(index)
        if family is not None:
            step = family.ascent(cfg.method, bids, phi, directions, cfg.sigma, cfg.estimator)
        else:
            step = ascent_direction(cfg.method, bids, parametrisation, phi, directions, cfg.sigma, cfg.estimator)
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


def history_frame(rows: list[dict[str, float]]) -> pd.DataFrame:
    """History rows as a DataFrame with the fixed column order (iteration 0 = the VCG initialisation)."""
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return frame.astype({"iteration": "int64"})
