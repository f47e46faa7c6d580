"""The one-item VVCA baseline of the single-item study (docs/methods.md#single-item-baselines).

With one item the bundles are {empty, item} and a VVCA is a weighted, boosted second-price auction: bidder i's
virtual value for the item is w_i b_i + lambda_i(item) against lambda_i(empty) for not winning (Eq. 3 of the
ZFO-VVCA paper with m = 1). The allocation maximises sum_i w_i b_i(A_i) + lambda_i(A_i) over the n + 1
allocations and the payment is the affine-maximiser payment of Eq. 2, so the mechanism is DSIC and ex-post IR for
any parameters; a reserve price, a personalised reserve and bidder-specific weights are all special cases.

The parameters are learned by the ZFO-VVCA optimizer (Algorithm 3, :mod:`pipeline_lib.vvca.zfo`) on the
family's training split, selected on its validation split, and then evaluated by the same single-item evaluator
as every other mechanism (its measured regret is a check of the evaluator: it must be 0).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from pipeline_lib.core.provenance import package_versions
from pipeline_lib.core.seeds import seed_record, vvca_run_seed
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig
from pipeline_lib.vvca.evaluate import evaluate_on
from pipeline_lib.vvca.mechanism import VVCAParams, evaluate_vvca
from pipeline_lib.vvca.parametrisation import Parametrisation
from pipeline_lib.vvca.zfo import history_frame, train

NAME = "vvca_zfo"
log = logging.getLogger(__name__)


def one_item_bids(bids: Tensor) -> Tensor:
    """Single-item bids (B, n) as bundle bids (B, n, 2): b_i(empty) = 0, b_i({item}) = b_i."""
    return torch.stack([torch.zeros_like(bids), bids], dim=-1)


class OneItemVVCA:
    """A trained one-item VVCA as a single-item mechanism: bids (B, n) -> (allocation (B, n), payment (B, n))."""

    name = NAME
    differentiable = False

    def __init__(self, params: VVCAParams):
        if params.m != 1:
            raise ValueError(f"a one-item VVCA needs m = 1, got m = {params.m}")
        self.vvca = params.detach()
        self.params: dict[str, Any] = {"reserve": None}

    def __call__(self, bids: Tensor) -> tuple[Tensor, Tensor]:
        outcome = evaluate_vvca(one_item_bids(bids), self.vvca.to(device=bids.device, dtype=bids.dtype))
        alloc = (outcome.alloc == 1).to(bids.dtype)
        return alloc, outcome.payments.to(bids.dtype)


def train_one_item_vvca(
    *,
    family: str,
    train_values: np.ndarray,
    val_values: np.ndarray,
    zfo_cfg: Mapping[str, Any],
    base_seed: int,
    ckpt_dir: str | None,
    device: torch.device,
    progress: bool = True,
    run_key: str = "",
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the one-item VVCA of ``family`` by ZFO-VVCA from VCG on bids (N, n); returns the parameters payload
    (plain tensors and values, what ``params.pt`` holds) and the history table."""
    cfg = TrainConfig(method="zfo_vvca", selection="best_val", **dict(zfo_cfg))
    sources = {
        split: BidSource(values[:, :, None], additive=True, device=device)
        for split, values in (("train", train_values), ("val", val_values))
    }
    n = sources["train"].values.shape[1]
    seq = vvca_run_seed(base_seed, family, 0)
    parametrisation = Parametrisation.full(n, 1)
    log.info("training the one-item VVCA of %s (n = %d) by ZFO-VVCA: %s", family, n, cfg)
    result = train(sources["train"], parametrisation, cfg, seq, sources["val"], ckpt_dir, progress, run_key=run_key)
    params = parametrisation.params(result.phi)
    val = evaluate_on(sources["val"], params)
    payload = {
        "alpha": params.alpha.detach().cpu(),
        "boosts": params.boosts.detach().cpu(),
        "family": family,
        "n": n,
        "m": 1,
        "config": {k: getattr(cfg, k) for k in ("lr", "q", "sigma", "iterations", "batch_size", "selection")},
        "run_seed": seed_record(seq),
        "val_revenue": val["revenue"]["mean"],
        "versions": package_versions(),
    }
    return payload, history_frame(result.history)


def one_item_vvca_from_payload(payload: Mapping[str, Any]) -> OneItemVVCA:
    """The mechanism of a saved :func:`train_one_item_vvca` payload."""
    alpha = torch.as_tensor(payload["alpha"], dtype=torch.float64)
    boosts = torch.as_tensor(payload["boosts"], dtype=torch.float64)
    return OneItemVVCA(VVCAParams(alpha, boosts))


def vvca_from_reserve(n: int, reserve: float) -> VVCAParams:
    """Second price with an anonymous reserve r as a one-item VVCA: w = 1, lambda_i(item) = -r, lambda_i(empty) = 0.

    Bidder i wins only if b_i - r is the largest and >= 0, and pays max(r, second-highest bid): a closed form used by
    the tests.
    """
    boosts = np.zeros((n, 2))
    boosts[:, 1] = -reserve
    return VVCAParams(torch.zeros(n, dtype=torch.float64), torch.as_tensor(boosts))
