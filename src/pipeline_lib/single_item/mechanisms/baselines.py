"""The single-item baselines by name (docs/methods.md#single-item-baselines).

* ``myerson``: the optimal auction of an independent family (:func:`pipeline_lib.single_item.mechanisms.myerson.
  myerson_for`); not defined for correlated families (latent, lognormal).
* ``vickrey``, ``vickrey_r1`` (the report's reserve 1), ``vickrey_fitted_reserve`` (the revenue-maximising
  anonymous reserve on the training split); ``vvca_zfo`` is trained by its own stage
  (:mod:`pipeline_lib.single_item.mechanisms.one_item_vvca`).

:func:`correct_baseline` is the truthful mechanism the report's phase 1 imitates (docs/methods.md#two-phase-net).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from pipeline_lib.single_item.mechanisms.myerson import myerson_for
from pipeline_lib.single_item.mechanisms.priors import baseline_names, bidder_priors
from pipeline_lib.single_item.mechanisms.vickrey import (
    MechanismFn,
    fit_anonymous_reserve,
    second_price_reserve,
    vickrey,
)

__all__ = ["BASELINES", "TRAINED_BASELINES", "baseline_names", "build_baseline", "correct_baseline"]


def correct_baseline(family: Mapping[str, Any], n_bidders: int) -> MechanismFn:
    """The truthful mechanism phase 1 imitates: Myerson for independent families, else Vickrey."""
    if bidder_priors(family, n_bidders) is None:
        return vickrey()
    return myerson_for(family, n_bidders)


def _build_fitted_reserve(family: Mapping[str, Any], train: np.ndarray) -> MechanismFn:
    return second_price_reserve(fit_anonymous_reserve(train), name="vickrey_fitted_reserve")


BASELINES: dict[str, Callable[[Mapping[str, Any], np.ndarray], MechanismFn]] = {
    "vickrey": lambda family, train: vickrey(),
    "myerson": lambda family, train: myerson_for(family, train.shape[1]),
    "vickrey_r1": lambda family, train: second_price_reserve(1.0, name="vickrey_r1"),
    "vickrey_fitted_reserve": _build_fitted_reserve,
}
TRAINED_BASELINES = ("vvca_zfo",)  # trained by their own stage (pipeline_lib.single_item.mechanisms.one_item_vvca)


def build_baseline(name: str, family: Mapping[str, Any], train: np.ndarray) -> MechanismFn:
    """Construct baseline ``name`` for ``family``, fitting on training values ``train`` (N, n) where it learns."""
    if name in TRAINED_BASELINES:
        raise KeyError(f"baseline {name!r} is trained by its own stage; load it from its parameters file")
    if name not in BASELINES:
        raise KeyError(f"unknown single-item baseline {name!r}; known: {sorted(BASELINES)}")
    return BASELINES[name](family, train)
