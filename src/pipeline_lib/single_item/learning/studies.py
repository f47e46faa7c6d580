"""Optuna studies of the single-item sweeps: creation, resume after a kill, exports
(docs/methods.md#two-phase-net, docs/methods.md#regretnet).

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
from collections.abc import Callable, Mapping
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, Trial, TrialState

from pipeline_lib.core import optuna_storage as ostore

log = logging.getLogger(__name__)

OWNER = "single_item_sweep"


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
