"""Hyperparameters of one ZFO-VVCA / FO-VVCA / BBBVVCA run and how they are resolved from the config.

Torch-free on purpose: the workflow resolves every run's hyperparameters while it parses the DAG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METHODS = ("zfo_vvca", "fo_vvca", "bbbvvca", "zfo_vvca_plus", "zfo_ama", "zfo_ama_sym")
# ZFO-VVCA+ = the same loop from the best start; zfo_ama(_sym) = the same loop on the AMA over every allocation
ZEROTH_ORDER = ("zfo_vvca", "zfo_vvca_plus", "zfo_ama", "zfo_ama_sym")
ESTIMATORS = ("forward", "central")
OPTIMIZERS = ("adam", "sgd")
SELECTIONS = ("last", "best_val")
TABLE3_KEYS = ("lr", "q", "sigma", "iterations", "batch_size")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one run: Table 3 (lr, q, sigma, iterations, batch_size) plus the loop's options."""

    lr: float
    q: int
    sigma: float
    iterations: int
    batch_size: int
    method: str = "zfo_vvca"
    estimator: str = "forward"
    optimizer: str = "adam"
    selection: str = "last"
    eval_every: int = 100
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        checks = {
            "method": (self.method, METHODS),
            "estimator": (self.estimator, ESTIMATORS),
            "optimizer": (self.optimizer, OPTIMIZERS),
            "selection": (self.selection, SELECTIONS),
        }
        for key, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{key} must be one of {allowed}, got {value!r}")
        for key in ("q", "iterations", "batch_size", "eval_every", "checkpoint_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.lr <= 0 or self.sigma <= 0:
            raise ValueError(f"lr and sigma must be positive, got {self.lr}, {self.sigma}")

    @property
    def uses_zeroth_order(self) -> bool:
        return self.method in ZEROTH_ORDER


TRAINING_KEYS = ("estimator", "optimizer", "selection", "eval_every", "checkpoint_every")
OVERRIDE_KEYS = ("lr", "q", "sigma", "iterations", "batch_size", *TRAINING_KEYS)


def resolve_config(
    method: str,
    table3: dict[str, Any],
    training: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    max_iterations: int | None = None,
    max_batch_size: int | None = None,
) -> TrainConfig:
    """The hyperparameters of one (setting, method) run, by precedence.

    Table 3 of the setting < global ``training`` options < ``overrides`` of the method; then the tier caps
    ``max_iterations`` and ``max_batch_size`` (quick and smoke tiers) bound the result.
    """
    values: dict[str, Any] = {k: table3[k] for k in ("lr", "q", "sigma", "iterations", "batch_size")}
    values.update({k: v for k, v in (training or {}).items() if k in TRAINING_KEYS and v is not None})
    unknown = set(overrides or {}) - set(OVERRIDE_KEYS)
    if unknown:
        raise ValueError(f"unknown override keys {sorted(unknown)} for {method}; allowed: {OVERRIDE_KEYS}")
    values.update(overrides or {})
    if max_iterations is not None:
        values["iterations"] = min(int(values["iterations"]), int(max_iterations))
    if max_batch_size is not None:
        values["batch_size"] = min(int(values["batch_size"]), int(max_batch_size))
    return TrainConfig(method=method, **values)
