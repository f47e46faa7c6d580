"""The single-item baselines by name and what the evaluator needs to know of a family
(docs/methods.md#single-item-baselines).

* ``myerson``: the optimal auction of an independent family: for i.i.d. bidders the single-phi virtual-value auction
  of :mod:`pipeline_lib.single_item.auctions` (ironed where needed), for asymmetric bidders (``per_bidder``) each
  bidder's own ironed virtual value (:mod:`pipeline_lib.single_item.asymmetric_myerson`). Not defined for
  correlated families (latent, lognormal).
* ``vickrey``, ``vickrey_r1`` (the report's reserve 1), ``vickrey_fitted_reserve`` (the revenue-maximising
  anonymous reserve on the training split); ``vvca_zfo`` is trained by its own stage.

:func:`known_optimum` is Myerson's optimal revenue where it is known (closed-form quadrature for i.i.d. bidders,
:func:`~pipeline_lib.single_item.asymmetric_myerson.optimal_revenue` otherwise) and :func:`support_upper` the
largest value a bidder can have (the evaluator's misreport range).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from pipeline_lib.single_item.asymmetric_myerson import asymmetric_myerson, optimal_revenue
from pipeline_lib.single_item.auctions import (
    MechanismFn,
    fit_anonymous_reserve,
    myerson,
    myerson_revenue,
    second_price_reserve,
    vickrey,
)
from pipeline_lib.single_item.distributions import prior_from_family
from pipeline_lib.single_item.priors import baseline_names, family_priors

__all__ = ["BASELINES", "baseline_names", "build_baseline", "correct_baseline", "known_optimum", "support_upper"]


def myerson_for(family: Mapping[str, Any], n_bidders: int) -> MechanismFn:
    """Myerson's optimal auction of an independent family (i.i.d.: one ironed phi; asymmetric: one per bidder)."""
    prior = prior_from_family(family)
    if prior is not None:
        return myerson(prior)
    priors = family_priors(family, n_bidders)
    if priors is None:
        raise ValueError(f"Myerson needs independent bidders with known priors, not {family['distribution']!r}")
    return asymmetric_myerson(priors)


def correct_baseline(family: Mapping[str, Any], n_bidders: int) -> MechanismFn:
    """The truthful mechanism phase 1 imitates: Myerson for independent families, else Vickrey."""
    if family_priors(family, n_bidders) is None:
        return vickrey()
    return myerson_for(family, n_bidders)


def known_optimum(family: Mapping[str, Any], n_bidders: int) -> float | None:
    """Myerson's optimal expected revenue (quadrature, no sampling), None for correlated families."""
    prior = prior_from_family(family)
    if prior is not None:
        return myerson_revenue(prior, n_bidders)
    priors = family_priors(family, n_bidders)
    return None if priors is None else optimal_revenue(priors)


def support_upper(family: Mapping[str, Any], n_bidders: int) -> float:
    """The largest possible value of any bidder (inf when unbounded or unknown)."""
    priors = family_priors(family, n_bidders)
    return math.inf if priors is None else max(p.upper for p in priors)


def _build_fitted_reserve(family: Mapping[str, Any], train: np.ndarray) -> MechanismFn:
    return second_price_reserve(fit_anonymous_reserve(train), name="vickrey_fitted_reserve")


BASELINES: dict[str, Callable[[Mapping[str, Any], np.ndarray], MechanismFn]] = {
    "vickrey": lambda family, train: vickrey(),
    "myerson": lambda family, train: myerson_for(family, train.shape[1]),
    "vickrey_r1": lambda family, train: second_price_reserve(1.0, name="vickrey_r1"),
    "vickrey_fitted_reserve": _build_fitted_reserve,
}
TRAINED_BASELINES = ("vvca_zfo",)  # trained by their own stage (pipeline_lib.single_item.one_item_vvca)


def build_baseline(name: str, family: Mapping[str, Any], train: np.ndarray) -> MechanismFn:
    """Construct baseline ``name`` for ``family``, fitting on training values ``train`` (N, n) where it learns."""
    if name in TRAINED_BASELINES:
        raise KeyError(f"baseline {name!r} is trained by its own stage; load it from its parameters file")
    if name not in BASELINES:
        raise KeyError(f"unknown single-item baseline {name!r}; known: {sorted(BASELINES)}")
    return BASELINES[name](family, train)
