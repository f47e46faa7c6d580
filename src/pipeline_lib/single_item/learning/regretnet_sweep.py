"""Optuna sweeps of RegretNet with a regret budget as a constraint (docs/methods.md#regretnet).

A trial trains RegretNet with suggested hyperparameters and is scored on the validation split by the honest
evaluator: it maximises validation revenue subject to

    validation regret - budget <= 0          (mean per-bidder regret; the budget from config),

through Optuna's constrained optimisation (feasibility-aware TPE) instead of a fixed revenue - kappa x regret
trade-off. The objective records the constraint value as the user attribute ``constraint``; :func:`constraints_func`
reads it back for a sampler's ``constraints_func`` argument (Optuna 4). Optuna 5 deprecates that argument in
favour of ``Trial.set_constraint``, so there :func:`record_trial` also sets the constraint on the trial and
:func:`constrained_sampler` builds the TPE sampler without ``constraints_func`` (same feasibility rule: every
constraint value <= 0). The best trial is the one of highest revenue among the feasible ones
(:func:`best_feasible_trial`).

Nothing here reads the optimal auction: trials are scored by validation revenue and validation regret alone.

Study creation mirrors :func:`pipeline_lib.single_item.learning.studies.open_study`: storage from the config section, a
TPE sampler seeded with ``seed`` + the number of trials already in the study (a resumed sweep does not replay the
start-up proposals), direction maximise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from pipeline_lib.core import optuna_storage as ostore
from pipeline_lib.single_item.evaluation import evaluator as ev
from pipeline_lib.single_item.learning.regretnet import RegretNetConfig, train_regretnet, validation_metrics
from pipeline_lib.single_item.learning.studies import open_study
from pipeline_lib.single_item.mechanisms.nets import SingleItemNet

REGRET_BUDGET = 1e-3
CONSTRAINT_ATTR = "constraint"
CONSTRAINT_KEY = "regret"  # the names under Trial.set_constraint (Optuna >= 5)
_SET_CONSTRAINT = hasattr(optuna.trial.Trial, "set_constraint")
# name -> (low, high, log); every name is a RegretNetConfig field
DEFAULT_SPACE: dict[str, tuple[float, float, bool]] = {
    "lr": (1e-4, 1e-3, True),
    "mu_init": (2.0, 200.0, True),
    "rho_init": (10.0, 500.0, True),
}


def record_trial(trial: Trial, revenue: float, regret: float, budget: float = REGRET_BUDGET) -> None:
    """Store validation revenue, regret and the constraint value regret - budget (<= 0: feasible)."""
    trial.set_user_attr("val_revenue", float(revenue))
    trial.set_user_attr("val_regret", float(regret))
    trial.set_user_attr("regret_budget", float(budget))
    values = {CONSTRAINT_KEY: float(regret) - float(budget)}
    trial.set_user_attr(CONSTRAINT_ATTR, list(values.values()))
    if _SET_CONSTRAINT:
        for key, value in values.items():
            trial.set_constraint(key, value)


def constraints_func(trial: FrozenTrial) -> Sequence[float]:
    """Optuna ``constraints_func``: (regret - budget,) as recorded by :func:`record_trial`; a
    trial without the record (it failed before scoring) counts as infeasible."""
    return tuple(trial.user_attrs.get(CONSTRAINT_ATTR, [math.inf]))


def constrained_sampler(seed: int, n_existing: int = 0) -> optuna.samplers.TPESampler:
    """TPE seeded with ``seed`` + ``n_existing`` (as :func:`pipeline_lib.single_item.learning.studies.open_study`),
    constraint-aware:
    through :func:`constraints_func` on Optuna 4, through the trials' own constraints on Optuna 5."""
    if _SET_CONSTRAINT:
        return optuna.samplers.TPESampler(seed=int(seed) + int(n_existing))
    return optuna.samplers.TPESampler(seed=int(seed) + int(n_existing), constraints_func=constraints_func)


def open_constrained_study(
    name: str,
    storage_section: Mapping[str, Any] | None,
    storage_path: str,
    seed: int,
    user_attrs: Mapping[str, Any] | None = None,
    fresh_after_export: bool = False,
) -> tuple[optuna.Study, ostore.StorageSpec]:
    """Create or load study ``name`` (maximise) in the configured storage with :func:`constrained_sampler`
    (``fresh_after_export`` as in :func:`pipeline_lib.single_item.learning.studies.open_study`)."""
    return open_study(
        name, storage_section, storage_path, seed, user_attrs, fresh_after_export, make_sampler=constrained_sampler
    )


def best_feasible_trial(study: optuna.Study, n_trials: int | None = None) -> FrozenTrial | None:
    """The complete trial of highest value among those whose constraint values are all <= 0 (None if none); with
    ``n_trials`` only the first ``n_trials`` complete trials (by number) count, so a lowered budget never picks a
    trial beyond it."""
    done = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    if n_trials is not None:
        done = done[: int(n_trials)]
    feasible = [t for t in done if all(c <= 0.0 for c in constraints_func(t)) and t.value is not None]
    return max(feasible, key=lambda t: t.value) if feasible else None


def replace_config(base: RegretNetConfig, params: Mapping[str, float]) -> RegretNetConfig:
    """``base`` with the tuned fields of a trial's ``params`` (only RegretNetConfig fields)."""
    return replace(base, **{k: float(v) for k, v in params.items() if k in RegretNetConfig.__dataclass_fields__})


def suggest_config(
    trial: Trial, base: RegretNetConfig, space: Mapping[str, tuple[float, float, bool]]
) -> RegretNetConfig:
    """``base`` with every field of ``space`` replaced by a suggestion (float, log-uniform where flagged)."""
    values = {k: trial.suggest_float(k, float(lo), float(hi), log=bool(log)) for k, (lo, hi, log) in space.items()}
    return replace(base, **values)


def regretnet_trial(
    trial: Trial,
    values_train: np.ndarray,
    values_val: np.ndarray,
    base_cfg: RegretNetConfig,
    seed: int,
    budget: float = REGRET_BUDGET,
    search: ev.RegretSearch | None = None,
    space: Mapping[str, tuple[float, float, bool]] | None = None,
    init_net: SingleItemNet | None = None,
) -> tuple[float, float]:
    """Train with suggested hyperparameters (from ``init_net`` when given) and score on ``values_val`` with the
    honest evaluator (soft network, as trained); records
    the constraints and returns (validation revenue, validation mean per-bidder regret)."""
    cfg = suggest_config(trial, base_cfg, DEFAULT_SPACE if space is None else space)
    net, history = train_regretnet(values_train, values_val, cfg, seed, init_net=init_net)
    m = validation_metrics(net, values_val, search)
    record_trial(trial, m["revenue"], m["regret_mean"], budget)
    trial.set_user_attr("val_regret_max", m["regret_max"])
    trial.set_user_attr("train_seconds", float(history[-1]["seconds"]) if history else 0.0)
    return m["revenue"], m["regret_mean"]


def make_objective(
    values_train: np.ndarray,
    values_val: np.ndarray,
    base_cfg: RegretNetConfig,
    seed: int,
    budget: float = REGRET_BUDGET,
    search: ev.RegretSearch | None = None,
    space: Mapping[str, tuple[float, float, bool]] | None = None,
    init_net: SingleItemNet | None = None,
) -> Callable[[Trial], float]:
    """The Optuna objective (validation revenue); pair it with a study from :func:`open_constrained_study` or
    any study whose sampler uses :func:`constraints_func`. Every trial trains from the same ``seed`` (and from
    ``init_net`` when given)."""

    def objective(trial: Trial) -> float:
        revenue, _ = regretnet_trial(trial, values_train, values_val, base_cfg, seed, budget, search, space, init_net)
        return revenue

    return objective
