"""The optimum as a ceiling on a learned mechanism's validation revenue (spec beyond.md 3, deployment).

Myerson (1981, Theorem 3 and Lemma 3): for bidders with independent private values, the optimal auction's expected
revenue R* bounds the expected revenue of every Bayesian incentive-compatible and interim IR mechanism, so of every
DSIC one. A mechanism that earns more than R* earns the excess from bidders it does not make truthful: its regret
buys revenue. RegretNet's augmented Lagrangian does exactly that from an optimal start (quick tier, uniform: two
Adam steps from a start at 100.0% of Myerson's revenue, regret 2e-6, gave 100.8% at regret 2.6e-4; the CPU tier's
deployed iterate earned 101.7% [101.45, 101.95] at 3.1e-4, within the regret budget of 1e-3). A regret budget alone
therefore cannot keep a learned mechanism from exceeding the optimum; this ceiling can.

On the validation profiles v_1..v_N the ceiling compares a mechanism M with the optimal auction M* profile by profile
(paired: the same profiles, so the profile-to-profile spread of revenue cancels):

    d_k = sum_i p_i^M(v_k) - sum_i p_i^*(v_k),      dbar = (1/N) sum_k d_k,      se = sd(d) / sqrt(N),

and admits M iff dbar <= z se, i.e. M's revenue is not above the optimum beyond noise (one-sided, ``z`` standard
errors; default 2). It applies only where M* is known: independent bidders with known priors
(:func:`pipeline_lib.single_item.priors.bidder_priors`); for correlated values (latent) Myerson's auction is not
optimal and no ceiling is known.

The same statistics tell when a search can stop: a mechanism with dbar >= -z se is not below the optimum beyond noise
either (:func:`at_optimum`); once an admitted iterate or trial is there, further search can only trade noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

CEILING_Z = 2.0


class CeilingCheck(NamedTuple):
    """A mechanism against the ceiling: dbar, se and the violation dbar - z se (<= 0: admitted)."""

    excess: float
    se: float
    violation: float


def at_optimum(excess: float | None, se: float | None, z: float = CEILING_Z) -> bool:
    """Whether revenue excess ``excess`` (dbar) over the optimum, of standard error ``se``, is not below the optimum
    beyond noise: dbar >= -z se. False where no excess was measured (None: no known optimum)."""
    if excess is None or se is None:
        return False
    return float(excess) >= -float(z) * float(se)


def profile_revenues(mechanism: Any, values: np.ndarray) -> np.ndarray:
    """sum_i p_i(v_k) for every profile v_k of ``values`` (N, n), in float64 (truthful bids)."""
    with torch.no_grad():
        _, pay = mechanism(torch.as_tensor(np.asarray(values, np.float64)))
    return pay.sum(dim=1).detach().cpu().numpy().astype(np.float64)


@dataclass(frozen=True)
class RevenueCeiling:
    """The optimal auction's revenue on fixed validation profiles and the tolerance ``z`` (module docstring)."""

    values: np.ndarray  # (N, n) the validation profiles
    reference: np.ndarray  # (N,) the optimal auction's revenue per profile
    z: float = CEILING_Z

    @classmethod
    def of(cls, optimal: Any, values: np.ndarray, z: float = CEILING_Z) -> RevenueCeiling:
        """The ceiling of the optimal auction ``optimal`` (an evaluator mechanism) on ``values``."""
        if not math.isfinite(z) or z < 0:
            raise ValueError(f"revenue ceiling: z must be a finite number >= 0, got {z!r}")
        vals = np.asarray(values, np.float64)
        return cls(vals, profile_revenues(optimal, vals), float(z))

    @property
    def revenue(self) -> float:
        """R* estimated on the validation profiles."""
        return float(self.reference.mean())

    def excess(self, mechanism: Any) -> tuple[float, float]:
        """(dbar, se): the mechanism's mean revenue minus the optimum's on the same profiles, and its standard error."""
        d = profile_revenues(mechanism, self.values) - self.reference
        se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0
        return float(d.mean()), se

    def check(self, mechanism: Any) -> CeilingCheck:
        """dbar, se and dbar - z se (<= 0 when the mechanism's revenue is not above the optimum beyond noise)."""
        mean, se = self.excess(mechanism)
        return CeilingCheck(mean, se, mean - self.z * se)
