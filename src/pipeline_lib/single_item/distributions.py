"""Independent value distributions of single-item bidders (torch-free: the workflow reads them while it parses).

A prior has a cdf F, pdf f, support [lower, upper] and a sampler; its virtual value is phi(v) = v - (1 - F(v)) / f(v)
(Myerson 1981). Families whose values are not independent (latent, correlated log-normal) have no prior here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy import optimize


class Prior(Protocol):
    """A one-dimensional value distribution on [lower, upper] (upper may be inf)."""

    lower: float
    upper: float

    def cdf(self, v: np.ndarray) -> np.ndarray: ...

    def sf(self, v: np.ndarray) -> np.ndarray: ...

    def pdf(self, v: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class UniformPrior:
    """U[low, high]: F(v) = (v - low) / (high - low)."""

    low: float = 0.0
    high: float = 1.0

    @property
    def lower(self) -> float:
        return self.low

    @property
    def upper(self) -> float:
        return self.high

    def cdf(self, v: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(v, float) - self.low) / (self.high - self.low), 0.0, 1.0)

    def sf(self, v: np.ndarray) -> np.ndarray:
        return np.clip((self.high - np.asarray(v, float)) / (self.high - self.low), 0.0, 1.0)

    def pdf(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, float)
        return np.where((v >= self.low) & (v <= self.high), 1.0 / (self.high - self.low), 0.0)


@dataclass(frozen=True)
class ExponentialPrior:
    """Exp with the given mean: F(v) = 1 - exp(-v / mean) on [0, inf)."""

    mean: float = 1.0
    lower: float = 0.0
    upper: float = math.inf

    def cdf(self, v: np.ndarray) -> np.ndarray:
        return -np.expm1(-np.maximum(np.asarray(v, float), 0.0) / self.mean)

    def sf(self, v: np.ndarray) -> np.ndarray:
        return np.exp(-np.maximum(np.asarray(v, float), 0.0) / self.mean)

    def pdf(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, float)
        return np.where(v >= 0, np.exp(-np.maximum(v, 0.0) / self.mean) / self.mean, 0.0)


@dataclass(frozen=True)
class MixturePrior:
    """Finite mixture F = sum_k w_k F_k."""

    components: tuple[Any, ...]
    weights: tuple[float, ...]

    @property
    def lower(self) -> float:
        return min(c.lower for c in self.components)

    @property
    def upper(self) -> float:
        return max(c.upper for c in self.components)

    def cdf(self, v: np.ndarray) -> np.ndarray:
        return sum(w * c.cdf(v) for w, c in zip(self.weights, self.components, strict=True))

    def sf(self, v: np.ndarray) -> np.ndarray:
        return sum(w * c.sf(v) for w, c in zip(self.weights, self.components, strict=True))

    def pdf(self, v: np.ndarray) -> np.ndarray:
        return sum(w * c.pdf(v) for w, c in zip(self.weights, self.components, strict=True))


def hetero_prior() -> MixturePrior:
    """The report's hetero marginal: type uniform on {U[0.5,1], U[0,0.5], Exp(1)}, i.e. 2/3 U[0,1] + 1/3 Exp(1)."""
    return MixturePrior((UniformPrior(0.5, 1.0), UniformPrior(0.0, 0.5), ExponentialPrior(1.0)), (1 / 3, 1 / 3, 1 / 3))


def prior_from_family(family: Mapping[str, Any]) -> Prior | None:
    """The i.i.d. marginal of a family config block, or None where values are not independent (latent, lognormal)."""
    dist = family["distribution"]
    if dist == "uniform":
        return UniformPrior(float(family.get("low", 0.0)), float(family.get("high", 1.0)))
    if dist == "exponential":
        return ExponentialPrior(float(family.get("mean", 1.0)))
    if dist == "hetero":
        return hetero_prior()
    return None


def prior_quantile(prior: Prior, q: float) -> float:
    """F^{-1}(q) by bracketing root search (q in (0, 1))."""
    lo, hi = prior.lower, prior.upper
    if not math.isfinite(hi):
        hi = max(1.0, lo + 1.0)
        while prior.cdf(np.array(hi)) < q:
            hi *= 2.0
    return float(optimize.brentq(lambda v: float(prior.cdf(np.array(v))) - q, lo, hi, xtol=1e-12))
