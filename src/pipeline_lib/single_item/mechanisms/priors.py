"""Value priors of independent single-item bidders: one marginal per bidder (docs/methods.md#single-item-families).

A prior has a cdf F, pdf f, support [lower, upper] and a survival function S = 1 - F; its virtual value is phi(v) = v -
(1 - F(v)) / f(v) (Myerson 1981), ironed where it falls (:mod:`pipeline_lib.single_item.mechanisms.myerson`).
Torch-free: the workflow reads this module while it parses.

A *marginal spec* is a mapping with a ``distribution`` key:

* ``{"distribution": "uniform", "low": a, "high": b}``           U[a, b]
* ``{"distribution": "exponential", "mean": m}``                  Exp with mean m
* ``{"distribution": "hetero"}``                                  the report's 2/3 U[0,1] + 1/3 Exp(1) mixture
* ``{"distribution": "mixture", "components": [...], "weights": [...]}``
                                                                  F = sum_k w_k F_k, f = sum_k w_k f_k

A *family* is either a marginal spec (symmetric: every bidder draws from it, i.i.d.) or
``{"distribution": "per_bidder", "bidders": [spec_1, ..., spec_n]}`` (asymmetric independent bidders). The
samplers of :mod:`pipeline_lib.valuations.single_item` read the same mappings. Correlated families (latent,
lognormal) have no product prior: :func:`bidder_priors` returns None for them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy import optimize

from pipeline_lib.valuations.single_item import MARGINALS, mixture_weights

INDEPENDENT_FAMILIES = (*MARGINALS, "per_bidder")
STANDARD_MARGINALS = ("uniform", "exponential", "hetero")  # the report's i.i.d. families (closed-form Myerson)


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


def prior_quantile(prior: Prior, q: float) -> float:
    """F^{-1}(q) by bracketing root search (q in (0, 1))."""
    lo, hi = prior.lower, prior.upper
    if not math.isfinite(hi):
        hi = max(1.0, lo + 1.0)
        while prior.cdf(np.array(hi)) < q:
            hi *= 2.0
    return float(optimize.brentq(lambda v: float(prior.cdf(np.array(v))) - q, lo, hi, xtol=1e-12))


def prior_from_spec(spec: Mapping[str, Any]) -> Prior:
    """The prior of one marginal spec (see the module docstring); mixtures nest."""
    dist = spec["distribution"]
    if dist == "uniform":
        low, high = float(spec.get("low", 0.0)), float(spec.get("high", 1.0))
        if not high > low:
            raise ValueError(f"uniform prior needs high > low, got [{low}, {high}]")
        return UniformPrior(low, high)
    if dist == "exponential":
        mean = float(spec.get("mean", 1.0))
        if not mean > 0:
            raise ValueError(f"exponential prior needs a positive mean, got {mean}")
        return ExponentialPrior(mean)
    if dist == "hetero":
        return hetero_prior()
    if dist == "mixture":
        comps = tuple(prior_from_spec(c) for c in spec["components"])
        weights = mixture_weights(spec["weights"], len(comps))
        return MixturePrior(comps, tuple(float(w) for w in weights))
    raise ValueError(f"no one-dimensional prior for distribution {dist!r}; expected one of {MARGINALS}")


def bidder_priors(family: Mapping[str, Any], n_bidders: int) -> list[Prior] | None:
    """One prior per bidder: the same prior n times for a symmetric family, bidder i's own for ``per_bidder``;
    None for correlated families (latent, lognormal), which have no independent marginals."""
    dist = family["distribution"]
    if dist == "per_bidder":
        specs = list(family["bidders"])
        if len(specs) != n_bidders:
            raise ValueError(f"per_bidder family lists {len(specs)} distributions for {n_bidders} bidders")
        return [prior_from_spec(s) for s in specs]
    if dist in MARGINALS:
        prior = prior_from_spec(family)
        return [prior] * n_bidders
    return None


def is_symmetric(priors: list[Prior]) -> bool:
    """True when every bidder has the same prior (then Myerson is the single-phi auction of ``classic``)."""
    return all(p == priors[0] for p in priors)


def support_upper(family: Mapping[str, Any], n_bidders: int) -> float:
    """The largest value any bidder can have, max_i upper_i (inf when some support is unbounded, or for correlated
    families, whose support this module does not know): the misreport range of the evaluator."""
    priors = bidder_priors(family, n_bidders)
    return math.inf if priors is None else max(p.upper for p in priors)


def prior_from_family(family: Mapping[str, Any]) -> Prior | None:
    """The i.i.d. marginal of a family of one of the report's :data:`STANDARD_MARGINALS` (uniform, exponential,
    hetero), None otherwise (mixtures, per-bidder and correlated families)."""
    return prior_from_spec(family) if family["distribution"] in STANDARD_MARGINALS else None


def baseline_names(family: Mapping[str, Any], n_bidders: int, requested: Sequence[str]) -> list[str]:
    """The requested baselines that apply to ``family`` (Myerson only where the bidders' priors are independent
    and known); torch-free, for the workflow's target lists."""
    return [b for b in requested if b != "myerson" or bidder_priors(family, n_bidders) is not None]


def resample_bidders(setting: str | bool, family: Mapping[str, Any], n_bidders: int, key: str) -> bool:
    """Whether training minibatches draw each bidder's column independently
    (:mod:`pipeline_lib.single_item.learning.minibatches`): ``auto`` where the bidders are independent, ``true`` only
    there (refused for correlated values: it would train on a different distribution), ``false`` never. ``key`` names
    the config entry in errors."""
    independent = bidder_priors(family, n_bidders) is not None
    return _auto_flag(setting, independent, key, family, "independent bidders", "correlated values")


def shared_map(setting: str | bool, family: Mapping[str, Any], n_bidders: int, key: str) -> bool:
    """Whether MyersonNet learns one map for every bidder: ``auto`` where the bidders' priors are independent and
    identical (Myerson's auction then has one virtual value), ``true`` only there, ``false`` never."""
    priors = bidder_priors(family, n_bidders)
    symmetric = priors is not None and is_symmetric(priors)
    return _auto_flag(setting, symmetric, key, family, "i.i.d. bidders", "bidders that differ")


def _auto_flag(setting: str | bool, holds: bool, key: str, family: Mapping[str, Any], needs: str, has: str) -> bool:
    if setting == "auto":
        return holds
    if not isinstance(setting, bool):
        raise ValueError(f"{key} must be auto, true or false, got {setting!r}")
    if setting and not holds:
        raise ValueError(f"{key}: true needs {needs}, and family {family.get('distribution')!r} has {has}")
    return setting
