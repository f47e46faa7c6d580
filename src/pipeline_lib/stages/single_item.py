"""Stages of the single-item study: one function per rule of ``workflow/rules/single_item.smk``.

Each reads its inputs (datasets checked against their metadata, saved networks), calls the library on values and
writes its outputs atomically. Checkpoints and the Optuna storage live next to the outputs they belong to
(:func:`pipeline_lib.core.checkpoint.checkpoint_dir_for`), never in ``params:``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline_lib.core import io
from pipeline_lib.core.checkpoint import checkpoint_dir_for, remove_checkpoint, run_key
from pipeline_lib.core.data import expected_metadata, read_valuations
from pipeline_lib.core.device import describe_device, get_device
from pipeline_lib.core.provenance import package_versions
from pipeline_lib.core.records import make_record
from pipeline_lib.core.seeds import stage_seed
from pipeline_lib.single_item.evaluation import family_report
from pipeline_lib.single_item.learning import report_net as tr
from pipeline_lib.single_item.learning.report_net_sweep import single_item_sweep
from pipeline_lib.single_item.learning.studies import mark_exported
from pipeline_lib.single_item.mechanisms.baselines import build_baseline, correct_baseline
from pipeline_lib.single_item.mechanisms.nets import AsMechanism, model_from_payload, model_payload
from pipeline_lib.single_item.mechanisms.one_item_vvca import one_item_vvca_from_payload, train_one_item_vvca
from pipeline_lib.stages.single_item_models import read_model

log = logging.getLogger(__name__)
STUDY_FILE = "study.sqlite3"


def load_split(
    path: str, family: str, split: str, data_check: Mapping[str, Any], max_rows: int | None = None
) -> np.ndarray:
    """Values (N, n) float32 of one split of a family, checked against its metadata (setting, split, the config's
    base seed and split size from ``data_check``: see :func:`pipeline_lib.core.data.expected_metadata`; values in
    the family's support); the first ``max_rows`` rows."""
    values = read_valuations(path, setting=family, kind="single_item", **expected_metadata(data_check, split)).values
    return values[: int(max_rows)] if max_rows else values


def _provenance() -> dict[str, Any]:
    return {"versions": package_versions(), "device": describe_device(get_device())}


def single_item_warmstart(
    train_path: str, out_path: str, *, family: str, family_cfg: Mapping, training: Mapping, base_seed: int,
    data_check: Mapping,
) -> dict[str, Any]:  # fmt: skip
    """Rule ``single_item_warmstart``: phase 1 (imitate the family's correct baseline) -> ``warmstart.pt``."""
    cfg = tr.TrainConfig.from_mapping(training)
    seed = stage_seed(base_seed, family, "warmstart")
    values = load_split(train_path, family, "train", data_check)
    target = correct_baseline(family_cfg, values.shape[1])
    t0 = time.perf_counter()
    net, history = tr.warm_start(values, target, cfg, seed, get_device())
    info = {
        "family": family, "seed": seed, "target": target.name, "config": tr.config_dict(cfg),
        "history": history, "wall_time_s": time.perf_counter() - t0, **_provenance(),
    }  # fmt: skip
    io.save_torch(model_payload(net, extra=info), out_path)
    return info


@dataclass(frozen=True)
class SweepFiles:
    """Inputs and outputs of one family's sweep (the study storage sits beside ``best``)."""

    train: str
    val: str
    warm: str
    best: str
    csv: str
    json: str


def single_item_sweep_stage(
    files: SweepFiles, *, family: str, family_cfg: Mapping, training: Mapping, sweep: Mapping, base_seed: int,
    data_check: Mapping,
) -> dict[str, Any]:  # fmt: skip
    """Rule ``single_item_sweep``: run or resume the family's Optuna sweep; export trials and the best weights."""
    device = get_device()
    train = load_split(files.train, family, "train", data_check)
    val = load_split(files.val, family, "val", data_check)
    warm = read_model(files.warm, "single_item_net", family=family, map_location=device)
    storage_path = str(Path(files.best).with_name(STUDY_FILE))
    result = single_item_sweep(
        train, val, warm, storage_path, family, family_cfg, training, sweep, base_seed, device,
        inputs_key=run_key([files.train, files.val, files.warm]),
    )  # fmt: skip
    with io.atomic_path(files.csv) as tmp:
        result.table.to_csv(tmp, index=False)
    io.write_json(files.json, result.document)
    io.write_json(files.best, result.best)
    mark_exported(result.study)  # a later (forced) run of this rule starts a fresh study
    return result.best


@dataclass(frozen=True)
class FinalFiles:
    """Inputs and outputs of one final training run."""

    train: str
    val: str
    warm: str
    best: str
    model: str
    history: str
    metrics: str


def single_item_train_final(
    files: FinalFiles, *, family: str, seed_index: int, training: Mapping, base_seed: int, data_check: Mapping
) -> dict[str, Any]:
    """Rule ``single_item_train_final``: phase 2 from the warm start with the sweep's best weights, one seed;
    resumable per epoch (checkpoint removed on completion). Writes model.pt, history.parquet, metrics.json."""
    device = get_device()
    cfg = tr.TrainConfig.from_mapping(training)
    best = io.read_json(files.best)
    pen = tr.Penalties(float(best["params"]["lambda_regret"]), float(best["params"]["lambda_mono"]))
    seed = stage_seed(base_seed, family, "final", seed_index)
    train = load_split(files.train, family, "train", data_check)
    val = load_split(files.val, family, "val", data_check)
    warm = read_model(files.warm, "single_item_net", family=family, map_location=device)
    net, warm_info = model_from_payload(warm, map_location=device)
    ckpt_dir = checkpoint_dir_for(files.model)
    t0 = time.perf_counter()
    identity = {"family": family, "run_key": run_key([files.train, files.val, files.warm, files.best])}
    history = tr.train_phase2(net, train, val, cfg, pen, seed, ckpt_dir, device, identity)
    metrics = {
        "family": family, "seed": seed_index, "run_seed": seed, "penalties": asdict(pen),
        "sweep_objective": best.get("objective_value"), "config": tr.config_dict(cfg),
        "final_epoch": history[-1] if history else None,
        "wall_time_s": time.perf_counter() - t0, **_provenance(),
    }  # fmt: skip
    io.save_torch(
        model_payload(net, extra={"family": family, "seed": seed_index, "penalties": asdict(pen)}), files.model
    )
    rows = [*warm_info.get("history", []), *history]  # phase 1 (shared warm start), then phase 2
    io.write_parquet(pd.DataFrame(rows).assign(family=family, seed=seed_index), files.history)
    io.write_json(files.metrics, metrics)
    remove_checkpoint(ckpt_dir)
    return metrics


def make_single_item_record(payload: dict[str, Any], family: str, method: str, seed: int) -> dict[str, Any]:
    """An evaluation payload wrapped in the common metrics record."""
    return make_record(setting=family, method=method, seed=seed, test_revenue=payload.pop("test_revenue"), **payload)


def single_item_evaluate(
    model_path: str, test_path: str, out_path: str, *, family: str, family_cfg: Mapping, evaluation: Mapping,
    seed_index: int, data_check: Mapping,
) -> dict[str, Any]:  # fmt: skip
    """Rule ``single_item_evaluate``: test-set report of one trained network (soft as trained; with ``hardened``
    also the argmax variant, under ``hardened``)."""
    device = get_device()
    max_rows = family_report.EvaluationConfig.from_mapping(evaluation).max_profiles
    values = load_split(test_path, family, "test", data_check, max_rows)
    net, extra = model_from_payload(
        read_model(model_path, "single_item_net", family=family, map_location=device), device
    )
    payload = family_report.report(AsMechanism(net), values, family, family_cfg, evaluation, device)
    payload.update({"training": extra})
    if family_report.EvaluationConfig.from_mapping(evaluation).hardened:
        hard = family_report.report(AsMechanism(net, hard=True), values, family, family_cfg, evaluation, device)
        payload["hardened"] = make_single_item_record(hard, family, "learned_hard", seed_index)
    record = make_single_item_record(payload, family, "learned", seed_index)
    io.write_json(out_path, record)
    return record


def single_item_vvca(
    train_path: str, val_path: str, out_params: str, out_history: str, *, family: str, zfo: Mapping, base_seed: int,
    data_check: Mapping,
) -> dict[str, Any]:  # fmt: skip
    """Rule ``single_item_vvca``: train the family's one-item VVCA by ZFO-VVCA; write params.pt, history.parquet."""
    device = get_device()
    ckpt_dir = checkpoint_dir_for(out_params)
    payload, history = train_one_item_vvca(
        family=family,
        train_values=load_split(train_path, family, "train", data_check),
        val_values=load_split(val_path, family, "val", data_check),
        zfo_cfg=zfo,
        base_seed=base_seed,
        ckpt_dir=str(ckpt_dir),
        device=device,
        run_key=run_key([train_path, val_path]),
    )
    io.save_torch(payload, out_params)
    io.write_parquet(history, out_history)
    remove_checkpoint(ckpt_dir)
    return payload


def single_item_baseline(
    train_path: str, test_path: str, out_path: str, *, family: str, family_cfg: Mapping, baseline: str,
    evaluation: Mapping, data_check: Mapping, fitted_path: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Rule ``single_item_baseline``: fit (on train, where it learns anything) and evaluate one baseline with the
    same evaluator; ``vvca_zfo`` is loaded from its trained parameters (``fitted_path``)."""
    device = get_device()
    if baseline == "vvca_zfo":
        if fitted_path is None:
            raise ValueError("the vvca_zfo baseline needs the trained parameters (input 'fitted')")
        mech = one_item_vvca_from_payload(read_model(fitted_path, "vvca_zfo", family=family))
    else:
        mech = build_baseline(baseline, family_cfg, load_split(train_path, family, "train", data_check))
    max_rows = family_report.EvaluationConfig.from_mapping(evaluation).max_profiles
    values = load_split(test_path, family, "test", data_check, max_rows)
    payload = family_report.report(
        mech, values, family, family_cfg, evaluation, device, family_report.extra_reserve_points(mech.params)
    )
    payload.update({"baseline": baseline})
    record = make_single_item_record(payload, family, baseline, 0)
    io.write_json(out_path, record)
    return record
