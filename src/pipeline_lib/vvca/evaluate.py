"""Evaluation of deterministic combinatorial mechanisms on a fixed test set: VCG, Item-Myerson and any VVCA.

For N test profiles with payments p_i(v) and allocations A_i(v) it reports (docs/methods.md#combinatorial-evaluator):

* revenue: mean of sum_i p_i over profiles, sample standard deviation, standard error std / sqrt(N), and the
  normal 95% interval mean +- 1.96 SE;
* per-bidder mean payments E[p_i] and the mean welfare E[sum_i v_i(A_i)];
* IR check: the number of (profile, bidder) pairs with p_i < -tol or p_i > v_i(A_i) + tol (must be 0 for these
  mechanisms; tol scales with the float precision of the evaluation).

VCG is the VVCA with w = 1 and lambda = 0 (docs/methods.md#vvca), evaluated by the exact dynamic program and
Algorithm 2; Item-Myerson runs the exact Myerson auction per item (:mod:`pipeline_lib.combinatorial.item_myerson`), and
the randomized affine maximizers (:mod:`pipeline_lib.combinatorial.menus`) feed their exact hard-argmax payments
into the same accumulator, so every Table 2 number comes from one summary with one IR rule.
The test set is streamed in blocks, so memory stays bounded (5x10 bundle values are 20 KiB per profile in float32).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pipeline_lib.valuations.combinatorial import additive_bundle_values
from pipeline_lib.vvca import mechanism as vvca
from pipeline_lib.vvca.bids import BidSource

# Absolute IR tolerance per unit of value scale, by evaluation dtype.
IR_TOL = {torch.float32: 1e-4, torch.float64: 1e-9}


@dataclass
class RevenueAccumulator:
    """Streams per-block payments and won values into the summary statistics."""

    revenue: list[np.ndarray] = field(default_factory=list)
    welfare: list[np.ndarray] = field(default_factory=list)
    payment_sums: np.ndarray | None = None
    ir_violations: int = 0
    max_ir_violation: float = 0.0
    count: int = 0

    def add(self, payments: torch.Tensor, won_values: torch.Tensor, tol: float) -> None:
        """payments and won_values v_i(A_i) of one block, both (B, n)."""
        p = payments.double().cpu().numpy()
        v = won_values.double().cpu().numpy()
        self.revenue.append(p.sum(1))
        self.welfare.append(v.sum(1))
        self.payment_sums = p.sum(0) if self.payment_sums is None else self.payment_sums + p.sum(0)
        scale = np.maximum(1.0, np.abs(v))
        excess = np.maximum(-p, p - v) / scale  # > 0 when IR (p <= v) or no-subsidy (p >= 0) fails
        self.ir_violations += int((excess > tol).sum())
        self.max_ir_violation = max(self.max_ir_violation, float(excess.max(initial=0.0)))
        self.count += p.shape[0]

    def summary(self) -> dict[str, Any]:
        if not self.count:
            raise ValueError("no profiles evaluated")
        revenue = np.concatenate(self.revenue)
        welfare = np.concatenate(self.welfare)
        std = float(revenue.std(ddof=1)) if self.count > 1 else 0.0
        se = std / math.sqrt(self.count)
        mean = float(revenue.mean())
        return {
            "revenue": {
                "mean": mean,
                "std": std,
                "se": se,
                "ci95": [mean - 1.96 * se, mean + 1.96 * se],
                "n_profiles": self.count,
            },
            "payments_per_bidder": (self.payment_sums / self.count).tolist(),
            "welfare": {
                "mean": float(welfare.mean()),
                "se": float(welfare.std(ddof=1) / math.sqrt(self.count)) if self.count > 1 else 0.0,
            },
            "ir": {"violations": self.ir_violations, "max_relative_violation": self.max_ir_violation},
        }


BlockFn = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]]


def vvca_block_fn(
    params: vvca.VVCAParams, layout: str, device: torch.device, dtype: torch.dtype, chunk_size: int | None = None
) -> BlockFn:
    """Block evaluator of a VVCA: stored values -> (payments (B, n), won values v_i(A*_i) (B, n))."""
    params = params.detach().to(device=device, dtype=dtype)

    def run(values: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        bids = torch.from_numpy(np.array(values, dtype=np.float64)).to(device=device, dtype=dtype)
        if layout == "additive":
            bids = additive_bundle_values(bids)
        out = vvca.evaluate_vvca(bids, params, chunk_size=chunk_size)
        return out.payments, vvca.bundle_values_at(bids, out.alloc)

    return run


def evaluate_blocks(blocks: Iterable[np.ndarray], block_fn: BlockFn, dtype: torch.dtype) -> dict[str, Any]:
    """Run ``block_fn`` on every block of stored values and summarise (revenue, payments, welfare, IR)."""
    acc = RevenueAccumulator()
    for values in blocks:
        payments, won = block_fn(values)
        acc.add(payments, won, IR_TOL[dtype])
    return acc.summary()


def evaluate_on(source: BidSource, params: vvca.VVCAParams, chunk_size: int = 8192) -> dict[str, Any]:
    """Exact evaluation of a VVCA (DP argmax, Algorithm 2) on a :class:`BidSource`, in the source's dtype.

    The same summary as every other evaluation here (:meth:`RevenueAccumulator.summary`); the training loop reads
    ``["revenue"]["mean"]`` for its validation revenue.
    """
    params = params.detach()
    acc = RevenueAccumulator()
    with torch.no_grad():
        for bids in source.chunks(chunk_size):
            out = vvca.evaluate_vvca(bids, params)
            acc.add(out.payments, vvca.bundle_values_at(bids, out.alloc), IR_TOL[bids.dtype])
    return acc.summary()
