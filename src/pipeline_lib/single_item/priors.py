"""Value priors of independent single-item families: one marginal per bidder (docs/methods.md#single-item-families).

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

The prior objects are those of :mod:`pipeline_lib.single_item.auctions` (cdf, sf, pdf, support), so the ironed
virtual values of Myerson (1981) apply to each bidder unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline_lib.single_item.distributions import ExponentialPrior, MixturePrior, Prior, UniformPrior, hetero_prior
from pipeline_lib.valuations.single_item import MARGINALS, mixture_weights

INDEPENDENT_FAMILIES = (*MARGINALS, "per_bidder")


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


def support_upper(priors: list[Prior]) -> float:
    """max_i of the support maxima (inf when some bidder's support is unbounded)."""
    return max(p.upper for p in priors)


def family_priors(family: Mapping[str, Any], n_bidders: int) -> list[Prior] | None:
    """:func:`bidder_priors`, the name the rest of the package uses: None where values are correlated."""
    return bidder_priors(family, n_bidders)


def baseline_names(family: Mapping[str, Any], n_bidders: int, requested: Sequence[str]) -> list[str]:
    """The requested baselines that apply to ``family`` (Myerson only where the bidders' priors are independent
    and known)."""
    return [b for b in requested if b != "myerson" or bidder_priors(family, n_bidders) is not None]


def resample_bidders(setting: str | bool, family: Mapping[str, Any], n_bidders: int, key: str) -> bool:
    """Whether training minibatches draw each bidder's column independently
    (:mod:`pipeline_lib.single_item.minibatches`): ``auto`` where the bidders are independent, ``true`` only there
    (refused for correlated values: it would train on a different distribution), ``false`` never. ``key`` names the
    config entry in errors."""
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
