"""Optuna sweep of the report's net: its penalty weights (docs/methods.md#two-phase-net).

Objective of a trial with weights (lambda_regret, lambda_mono), both sampled log-uniformly:

    J = validation revenue - kappa * validation regret

where the network is phase-2 trained from the family's warm start and the regret is measured by the evaluator of
:mod:`pipeline_lib.single_item.evaluation.evaluator` (per-bidder ex-post regret with the correct utility, exhaustive
grid) on the validation split, never on the test split. The sampler is a seeded TPE sampler; the study is created,
resumed and exported by :mod:`pipeline_lib.single_item.learning.studies`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
import torch
from optuna.trial import Trial

from pipeline_lib.core import optuna_storage as ostore
from pipeline_lib.core.checkpoint import fingerprint
from pipeline_lib.core.device import describe_device
from pipeline_lib.core.provenance import package_versions
from pipeline_lib.core.seeds import stage_seed
from pipeline_lib.single_item.evaluation import evaluator as ev
from pipeline_lib.single_item.learning import report_net as tr
from pipeline_lib.single_item.learning.studies import best_complete, open_study, resume_and_run, trial_exports
from pipeline_lib.single_item.mechanisms.nets import AsMechanism, model_from_payload
from pipeline_lib.single_item.mechanisms.priors import support_upper

log = logging.getLogger(__name__)

REPORT_LAMBDAS = {  # the report code's DEFAULT_LAMBDAS ("replace with your Optuna winners"), config.py
    "uniform": {"lambda_regret": 2.5088595885789813, "lambda_mono": 0.28165351037978287},
    "exponential": {"lambda_regret": 2.9029276978558367, "lambda_mono": 0.4687319992036483},
    "latent": {"lambda_regret": 1.8975934768008145, "lambda_mono": 0.663845376780487},
    "hetero": {"lambda_regret": 4.397392970362066, "lambda_mono": 0.22685112547224978},
}


# --------------------------------------------------------------------------------------------------------------
# The sweep of one family
# --------------------------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """A finished sweep: the best trial's payload (``best_params.json``), the trial table and document."""

    best: dict[str, Any]
    table: pd.DataFrame
    document: dict[str, Any]
    study: optuna.Study


def single_item_sweep(
    train: np.ndarray,
    val: np.ndarray,
    warm: Mapping[str, Any],
    storage_path: str,
    family: str,
    family_cfg: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    sweep_cfg: Mapping[str, Any],
    base_seed: int,
    device: torch.device,
    inputs_key: str = "",
) -> SweepResult:
    """Run (or resume) the Optuna sweep of one family on its train / val values from the warm start ``warm`` (a
    :func:`pipeline_lib.single_item.mechanisms.nets.model_payload`); the study lives in ``storage_path`` (core storage).

    The study is named by a fingerprint of the configuration and ``inputs_key`` (the input files' contents and the
    package code, :func:`pipeline_lib.core.checkpoint.run_key`): changed inputs or code start a new study; a study
    already exported (:func:`~pipeline_lib.single_item.learning.studies.mark_exported`) is not resumed either, so a
    forced run recomputes."""
    cfg = tr.TrainConfig.from_mapping(train_cfg)
    val_eval = val[: int(sweep_cfg.get("val_profiles", len(val)))]
    stats = tr.ValueStats.from_train(train, cfg.regret_grid)
    search = ev.RegretSearch(
        upper=ev.misreport_upper(val_eval, support_upper(family_cfg, val_eval.shape[1])),
        grid=int(sweep_cfg.get("val_grid", 1001)),
    )
    kappa = float(sweep_cfg.get("kappa", 5.0))
    statistic = str(sweep_cfg.get("regret_statistic", "regret_sum"))
    lr_lo, lr_hi = (float(x) for x in sweep_cfg.get("lambda_regret", (0.1, 5.0)))
    lm_lo, lm_hi = (float(x) for x in sweep_cfg.get("lambda_mono", (0.1, 2.0)))
    seed = stage_seed(base_seed, family, "sweep")
    warm_state = {k: v.clone() for k, v in model_from_payload(warm, map_location=device)[0].state_dict().items()}
    x_train, x_val = tr.to_tensor(train, device), tr.to_tensor(val, device)

    def objective(trial: Trial) -> float:
        pen = tr.Penalties(
            trial.suggest_float("lambda_regret", lr_lo, lr_hi, log=True),
            trial.suggest_float("lambda_mono", lm_lo, lm_hi, log=True),
        )
        t0 = time.perf_counter()
        gen = tr.seed_everything(seed)  # every trial: same data order, so trials differ only by the weights
        net, _ = model_from_payload(warm, map_location=device)
        net.load_state_dict(warm_state)
        state = tr.RunState(net, torch.optim.Adam(net.parameters(), lr=cfg.lr), gen)
        try:
            for _ in range(cfg.phase2_epochs):
                row = tr.run_phase2_epoch(state, x_train, x_val, stats, cfg, pen)
        except FloatingPointError as exc:
            log.warning("trial %d diverged: %s", trial.number, exc)
            trial.set_user_attr(ostore.FAIL_REASON_ATTR, f"training diverged: {exc}")
            return math.nan
        m = ev.evaluate_mechanism(AsMechanism(net), val_eval, search, ev.Bootstrap(n_boot=1), device=device).metrics
        attrs = {
            "val_revenue": m["revenue"]["value"],
            "val_regret_mean": m["regret_mean"]["value"],
            "val_regret_sum": m["regret_sum"]["value"],
            "val_regret_p99": m["regret_p99"]["value"],
            "val_regret_max": m["regret_max"]["value"],
            "val_welfare_ratio": m["welfare_ratio"]["value"],
            "train_revenue": row["revenue"],
            "train_regret": row["regret"],
            "train_mono": row["mono"],
            "seconds": time.perf_counter() - t0,
        }
        for k, v in attrs.items():
            trial.set_user_attr(k, float(v))
        value = m["revenue"]["value"] - kappa * m[statistic]["value"]
        log.info(
            "trial %d %s -> J=%.5f (rev %.4f, %s %.5f)",
            trial.number,
            trial.params,
            value,
            attrs["val_revenue"],
            statistic,
            m[statistic]["value"],
        )
        return value

    identity = {
        "family": family,
        "family_cfg": dict(family_cfg),
        "train": tr.config_dict(cfg),
        "seed": seed,
        "kappa": kappa,
        "statistic": statistic,
        "bounds": [lr_lo, lr_hi, lm_lo, lm_hi],
        "val_grid": search.grid,
        "val_profiles": len(val_eval),
        "n_bidders": int(train.shape[1]),
        "data": {"train": len(train), "val": len(val)},
        "inputs_key": inputs_key,
    }
    fp = fingerprint(identity)
    name = f"single_item-{family}-{fp[:12]}"
    study, spec = open_study(
        name, sweep_cfg.get("storage"), storage_path, seed, {"fingerprint": fp, **identity}, fresh_after_export=True
    )
    name = study.study_name
    enqueue = REPORT_LAMBDAS.get(family_cfg["distribution"]) if sweep_cfg.get("enqueue_report_lambdas", True) else None
    if enqueue is not None:
        enqueue = {
            k: min(max(v, lo), hi)
            for (k, v), (lo, hi) in zip(enqueue.items(), [(lr_lo, lr_hi), (lm_lo, lm_hi)], strict=True)
        }
    n_trials = int(sweep_cfg.get("n_trials", 50))
    t0 = time.perf_counter()
    max_failed = int(sweep_cfg.get("max_failed_trials", ostore.DEFAULT_MAX_FAILED))
    try:
        progress = resume_and_run(study, spec, objective, n_trials, enqueue, max_failed)
    except ostore.TooManyFailedTrials as exc:
        raise ostore.TooManyFailedTrials(
            f"Optuna sweep of family {family!r} stopped: {exc}. Check the family's data and training settings, "
            "or raise single_item.sweep.max_failed_trials"
        ) from None
    header = {
        "family": family,
        "study_name": name,
        "storage": spec.describe(storage_path),
        "n_trials": n_trials,
        "objective": f"val_revenue - {kappa} * val_{statistic}",
        "kappa": kappa,
    }
    table, document = trial_exports(study, header)
    best = best_complete(study, n_trials)
    payload = {
        **header,
        "params": dict(best.params),
        "objective_value": best.value,
        "trial_number": best.number,
        "val_revenue": best.user_attrs.get("val_revenue"),
        "val_regret": best.user_attrs.get(f"val_{statistic}"),
        "progress": progress,
        "wall_time_s": time.perf_counter() - t0,
        "config": identity,
        "versions": package_versions(),
        "device": describe_device(device),
    }
    return SweepResult(payload, table, document, study)
