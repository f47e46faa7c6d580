"""The optimum as a check (docs/methods.md#above-the-optimum): a mechanism is above the optimum beyond noise iff its
mean revenue excess over Myerson's auction on the same test profiles exceeds two paired standard errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline_lib.report.table1 import _above_cell, aggregate_seeds
from pipeline_lib.single_item.evaluation.family_report import report
from pipeline_lib.single_item.evaluation.optimum_check import ABOVE_Z, paired_excess
from pipeline_lib.single_item.mechanisms.vickrey import vickrey

U01 = {"distribution": "uniform", "low": 0.0, "high": 1.0}
EVAL = {"grid": 101, "refine_steps": 0, "bootstrap": 20}


def test_a_shift_beyond_two_paired_standard_errors_is_above_and_noise_is_not():
    rng = np.random.default_rng(0)
    reference = rng.random(4000)
    noise = rng.normal(0.0, 0.01, 4000)
    se = 0.01 / np.sqrt(4000)
    assert paired_excess(reference + noise + 4 * se, reference).above
    assert not paired_excess(reference + noise - noise.mean(), reference).above  # mean excess 0
    one = paired_excess(np.array([2.0]), np.array([1.0]))
    assert one.se is None and not one.above  # one profile: no standard error, never above beyond noise
    with pytest.raises(ValueError, match="equal-length"):
        paired_excess(np.ones(3), np.ones(4))
    assert ABOVE_Z == 2.0


class FirstPriceReadTruthfully:
    """First price at truthful bids: revenue E[max v] = 2/3 for two U[0,1] bidders, above the optimum 5/12; a
    mechanism that is not truthful (its regret bought the revenue)."""

    name = "first_price"

    def __call__(self, bids):
        alloc = torch.nn.functional.one_hot(bids.argmax(1), bids.shape[1]).to(bids.dtype)
        return alloc, alloc * bids


def test_the_evaluator_says_first_price_read_truthfully_is_above_the_optimum_and_vickrey_is_not():
    values = np.random.default_rng(3).random((2000, 2))
    first = report(FirstPriceReadTruthfully(), values, "uniform", U01, EVAL, torch.device("cpu"))
    second = report(vickrey(), values, "uniform", U01, EVAL, torch.device("cpu"))
    hi, lo = values.max(1), values.min(1)
    myerson = np.where(hi >= 0.5, np.maximum(lo, 0.5), 0.0)  # Myerson's payments for two U[0,1] bidders, by hand
    excess = first["metrics"]["excess_over_optimum"]
    assert excess["value"] == pytest.approx((hi - myerson).mean(), abs=1e-9)
    assert first["above_optimum"] is True and second["above_optimum"] is False
    latent = report(vickrey(), np.abs(values), "latent", {"distribution": "latent"}, EVAL, torch.device("cpu"))
    assert latent["above_optimum"] is None  # no known optimum: no verdict


def test_table1_counts_the_seeds_above_the_optimum():
    ci = {f"{k}_{e}": v for k in ("revenue", "regret_mean", "welfare_ratio", "regret_p99", "vs_myerson")
          for e, v in (("ci_lo", 0.0), ("ci_hi", 1.0))}  # fmt: skip
    metrics = {"revenue": 0.6, "regret_mean": 0.0, "welfare_ratio": 0.9, "regret_p99": 0.0, "vs_myerson": 1.0}
    base = {"mechanism": "regretnet", "n_seeds": 1, "obtained": "x", **metrics, **ci}
    rows = [{**base, "above_optimum": False}, {**base, "above_optimum": True}]
    agg = aggregate_seeds(rows, "regretnet")
    assert agg["above_optimum"] == 1 and _above_cell(agg | {"n_seeds": 2}) == "yes (1 of 2 seeds)"
    assert _above_cell({**base, "above_optimum": 0, "n_seeds": 2}) == "no"
    assert _above_cell({**base, "above_optimum": None}) == "-"
