"""The optimum as a check of a learned mechanism's test revenue: above the optimum beyond noise?

Myerson (1981, Theorem 3 and Lemma 3): for bidders with independent private values, the optimal auction's expected
revenue R* bounds the expected revenue of every Bayesian incentive-compatible, interim IR mechanism, so of every DSIC
one. A mechanism that earns more than R* earns the excess from bidders it does not make truthful: its regret buys
revenue (docs/methods.md#the-optimum-as-a-check).

On the test profiles v_1..v_N the check compares a mechanism M with the optimal auction M* profile by profile
(paired: the same profiles, so the profile-to-profile spread of revenue cancels):

    d_k = sum_i p_i^M(v_k) - sum_i p_i^*(v_k),      dbar = (1/N) sum_k d_k,      se = sd(d) / sqrt(N),

and M is *above the optimum beyond noise* iff dbar > z se (one-sided, ``z`` standard errors, :data:`ABOVE_Z`). It
applies only where M* is known (independent bidders with known priors); for correlated values (latent) no optimum
is known and the check is absent.

A cruder flag on the mean alone, :func:`revenue_flag`, compares the mean test revenue with the closed-form optimum R*
(docs/methods.md#above-the-optimum). :func:`optimum_reference` is the one place a known optimum is read: R* and the
optimal auction of a family (:mod:`pipeline_lib.single_item.mechanisms.myerson`).

This lives in evaluation only: nothing that trains, selects, sweeps or stops a learned mechanism calls it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch

from pipeline_lib.single_item.mechanisms.myerson import myerson_for, optimal_revenue_for
from pipeline_lib.single_item.mechanisms.vickrey import MechanismFn

ABOVE_Z = 2.0  # one-sided tolerance of the check, in paired standard errors


class ExcessCheck(NamedTuple):
    """Paired revenue excess over the optimum: dbar, its standard error and the verdict dbar > z se."""

    excess: float
    se: float | None
    above: bool


def paired_excess(revenue: np.ndarray, reference: np.ndarray, z: float = ABOVE_Z) -> ExcessCheck:
    """The check of per-profile revenues ``revenue`` (N,) against the optimal auction's ``reference`` (N,) on the
    same profiles. With one profile there is no standard error: never above beyond noise."""
    rev, ref = np.asarray(revenue, np.float64), np.asarray(reference, np.float64)
    if rev.shape != ref.shape or rev.ndim != 1 or rev.size == 0:
        raise ValueError(f"paired_excess needs two equal-length 1-d revenue arrays, got {rev.shape} and {ref.shape}")
    d = rev - ref
    if not math.isfinite(z) or z < 0:
        raise ValueError(f"paired_excess: z must be a finite number >= 0, got {z!r}")
    dbar = float(d.mean())
    if d.size < 2:
        return ExcessCheck(dbar, None, False)
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    return ExcessCheck(dbar, se, dbar > z * se)


def mark_above(metrics: dict[str, Any], revenue: torch.Tensor, reference: torch.Tensor, z: float = ABOVE_Z) -> None:
    """Add the verdict of :func:`paired_excess` (its ``se``, ``above`` and ``z``) to the evaluator's paired
    ``excess_over_optimum`` entry of ``metrics``, from the per-profile revenues of the mechanism and the optimum."""
    to_np = lambda t: t.detach().cpu().double().numpy()  # noqa: E731
    check = paired_excess(to_np(revenue), to_np(reference), z)
    metrics["excess_over_optimum"].update(se=check.se, above=check.above, z=z)


def revenue_flag(revenue: float, se: float | None, optimum: float | None, z: float = 3.0) -> str:
    """ "not incentive compatible" when an ex-post IR mechanism beats the IC optimum by more than z standard errors
    (docs/methods.md#above-the-optimum); "" otherwise, when no optimum is known or without a standard error (one
    profile)."""
    if optimum is None or not math.isfinite(optimum) or se is None:
        return ""
    return "not incentive compatible" if revenue > optimum + z * se else ""


def optimum_reference(family: Mapping[str, Any], n_bidders: int) -> tuple[float | None, MechanismFn | None]:
    """(R*, the optimal auction) of a family: Myerson's revenue and auction where the bidders' priors are independent
    and known, (None, None) for correlated values."""
    optimum = optimal_revenue_for(family, n_bidders)
    return optimum, (myerson_for(family, n_bidders) if optimum is not None else None)
