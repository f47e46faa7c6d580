"""Optuna sweeps of the single-item penalty weights (docs/methods.md#two-phase-net): study creation, resume, exports.

Objective of a trial with weights (lambda_regret, lambda_mono), both sampled log-uniformly:

    J = validation revenue - kappa * validation regret

where the network is phase-2 trained from the family's warm start and the regret is measured by the evaluator of
:mod:`pipeline_lib.single_item.regret` (per-bidder ex-post regret with the correct utility, exhaustive grid) on the
validation split, never on the test split. The sampler is a seeded TPE sampler.

Storage: :mod:`pipeline_lib.core.optuna_storage` (SQLite by default; a journal file or an RDB URL from an environment
variable through config). The storage file is never a declared Snakemake output; ``best_params.json``,
``trials.csv`` and ``trials.json`` are. Resume: a sweep killed midway leaves its running trial RUNNING; the next
run marks it FAIL, keeps every COMPLETE trial, and runs only the trials still missing, so the study ends with
exactly ``n_trials`` complete trials. The study name carries a fingerprint of everything a trial depends on, so a
changed config starts a new study in the same storage instead of mixing incompatible trials.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
import torch
from optuna.trial import FrozenTrial, Trial, TrialState

from pipeline_lib.core import optuna_storage as ostore
from pipeline_lib.core.checkpoint import fingerprint
from pipeline_lib.core.device import describe_device
from pipeline_lib.core.provenance import package_versions
from pipeline_lib.core.seeds import stage_seed
from pipeline_lib.single_item import regret as ev
from pipeline_lib.single_item import train as tr
from pipeline_lib.single_item.baselines import support_upper
from pipeline_lib.single_item.nets import AsMechanism, model_from_payload

log = logging.getLogger(__name__)

OWNER = "single_item_sweep"
REPORT_LAMBDAS = {  # the report code's DEFAULT_LAMBDAS ("replace with your Optuna winners"), config.py
    "uniform": {"lambda_regret": 2.5088595885789813, "lambda_mono": 0.28165351037978287},
    "exponential": {"lambda_regret": 2.9029276978558367, "lambda_mono": 0.4687319992036483},
    "latent": {"lambda_regret": 1.8975934768008145, "lambda_mono": 0.663845376780487},
    "hetero": {"lambda_regret": 4.397392970362066, "lambda_mono": 0.22685112547224978},
}


# --------------------------------------------------------------------------------------------------------------
# Study creation and resume (generic)
# --------------------------------------------------------------------------------------------------------------
EXPORTED_ATTR = "pipeline_exported"  # study user attr: the sweep's outputs were written from this study


def mark_exported(study: optuna.Study) -> None:
    """Record that the sweep's outputs were written from ``study``: a later run of the rule (forced with ``-R``,
    or its outputs deleted) starts a fresh study instead of re-exporting this one (see :func:`open_study`)."""
    study.set_user_attr(EXPORTED_ATTR, dt.datetime.now().isoformat(timespec="seconds"))


def _resumable_name(storage: optuna.storages.BaseStorage, name: str) -> str:
    """``name``, or ``name-rerun<k>`` for the first k whose study does not exist or was not exported yet."""
    existing = {s.study_name: s._study_id for s in storage.get_all_studies()}
    candidate, k = name, 0
    while candidate in existing and EXPORTED_ATTR in storage.get_study_user_attrs(existing[candidate]):
        k += 1
        candidate = f"{name}-rerun{k}"
    return candidate


def open_study(
    name: str,
    storage_section: Mapping[str, Any] | None,
    storage_path: str,
    seed: int,
    user_attrs: Mapping[str, Any] | None = None,
    fresh_after_export: bool = False,
    make_sampler: Callable[[int], optuna.samplers.BaseSampler] | None = None,
) -> tuple[optuna.Study, ostore.StorageSpec]:
    """Create or load study ``name`` (maximise) with a sampler seeded by ``seed`` + trials already present, so
    that a resumed sweep does not replay the start-up proposals of the first run (TPE unless ``make_sampler``
    builds another from that seed).

    ``fresh_after_export``: a study whose outputs were already written (:func:`mark_exported`) is not resumed; the
    first ``name-rerun<k>`` that is new or unfinished is used instead, so a forced re-run recomputes."""
    spec = ostore.StorageSpec.from_config(storage_section)
    storage = ostore.create_storage(spec, storage_path)
    make_sampler = make_sampler or (lambda s: optuna.samplers.TPESampler(seed=s))
    try:
        if fresh_after_export:
            name = _resumable_name(storage, name)
        probe = optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True)
        offset = len(probe.get_trials(deepcopy=False))
        sampler = make_sampler(int(seed) + offset)
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    except Exception as exc:  # e.g. a journal file corrupt midway, a database of another Optuna version
        raise ostore.StorageConfigError(
            f"cannot open study {name!r} in the Optuna storage {spec.describe(storage_path)}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; if the file is corrupt, move "
            "it away and the sweep starts afresh"
        ) from exc
    for key, value in (user_attrs or {}).items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value)
    return study, spec


def resume_and_run(
    study: optuna.Study,
    spec: ostore.StorageSpec,
    objective: Callable[[Trial], float],
    n_trials: int,
    enqueue: Mapping[str, float] | None = None,
    max_failed: int | None = ostore.DEFAULT_MAX_FAILED,
    stop_when: Callable[[optuna.Study], bool] | None = None,
) -> dict[str, int]:
    """Mark stale RUNNING trials FAIL, enqueue ``enqueue`` on a fresh study, run until ``n_trials`` complete
    (:class:`pipeline_lib.core.optuna_storage.TooManyFailedTrials` after ``max_failed`` failed trials) or until
    ``stop_when(study)`` holds (see :func:`pipeline_lib.core.optuna_storage.run_worker`).

    Stale: on SQLite (one worker at a time) every RUNNING trial; on a shared storage (journal, RDB) only those
    whose worker process is gone (:func:`pipeline_lib.core.optuna_storage.fail_trials_of_dead_workers`), so a
    second worker never fails the trial a live one is running."""
    if spec.multi_worker:
        stale = ostore.fail_trials_of_dead_workers(study)
    else:
        stale = ostore.mark_stale_running_as_failed(study)
    if stale:
        log.warning("marked %d trial(s) left RUNNING by a killed sweep as FAIL: %s", len(stale), stale)
    if enqueue and not study.get_trials(deepcopy=False):
        study.enqueue_trial(dict(enqueue))
    before = ostore.count_trials(study)
    ran = ostore.run_worker(study, objective, n_trials, owner=OWNER, max_failed=max_failed, stop_when=stop_when)
    return {
        "stale_failed": len(stale),
        "complete_before": before,
        "ran": ran,
        "complete": ostore.count_trials(study, (TrialState.COMPLETE,)),
        "stop_rule_met": bool(stop_when is not None and stop_when(study)),
    }


def trial_record(t: FrozenTrial) -> dict[str, Any]:
    """A JSON-safe view of one trial."""
    value = t.value if t.value is not None and math.isfinite(t.value) else None
    attrs = {k: v for k, v in t.user_attrs.items() if not k.startswith("pipeline_")}
    attrs = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in attrs.items()}
    return {
        "number": t.number,
        "state": t.state.name,
        "value": value,
        "params": dict(t.params),
        "user_attrs": attrs,  # a diverged trial's metrics: null, never NaN
        "datetime_start": t.datetime_start.isoformat() if t.datetime_start else None,
        "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else None,
    }


def trial_exports(study: optuna.Study, header: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every trial of ``study`` as a table (one row per trial, the header's scalars as leading columns) and as a
    JSON document (header + trials)."""
    records = [trial_record(t) for t in study.get_trials(deepcopy=False)]
    rows = []
    for r in records:
        row = {"number": r["number"], "state": r["state"], "value": r["value"]}
        row.update({f"params_{k}": v for k, v in r["params"].items()})
        row.update({f"user_attrs_{k}": v for k, v in r["user_attrs"].items() if not isinstance(v, dict | list)})
        row.update({"datetime_start": r["datetime_start"], "datetime_complete": r["datetime_complete"]})
        rows.append(row)
    frame = pd.DataFrame(rows)
    for key, value in header.items():
        if not isinstance(value, dict | list):
            frame.insert(0, key, value)
    return frame, {**header, "trials": records}


def best_complete(study: optuna.Study, n_trials: int | None = None) -> FrozenTrial:
    """The best COMPLETE trial among the first ``n_trials`` complete ones by trial number (all when ``None``): a
    study resumed with a lowered budget never reports a trial beyond that budget."""
    done = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    if n_trials is not None:
        done = done[: int(n_trials)]
    if not done:
        raise RuntimeError(f"study {study.study_name} has no complete trial")
    return max(done, key=lambda t: t.value)


# --------------------------------------------------------------------------------------------------------------
# The single-item sweep stage
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
    :func:`pipeline_lib.single_item.nets.model_payload`); the study lives in ``storage_path`` (core storage).

    The study is named by a fingerprint of the configuration and ``inputs_key`` (the input files' contents and the
    package code, :func:`pipeline_lib.core.checkpoint.run_key`): changed inputs or code start a new study; a study
    already exported (:func:`mark_exported`) is not resumed either, so a forced run recomputes."""
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
