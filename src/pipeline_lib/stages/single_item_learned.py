"""Stages of the learned single-item mechanisms beyond the report (docs/methods.md#regretnet, #myersonnet):

* ``regretnet_start``: RegretNet's starting network (the phase-1 network or a fresh one) distilled from a DSIC
  teacher over the whole misreport range (:mod:`pipeline_lib.single_item.learning.distilled_start`);
* ``regretnet_sweep``: Optuna sweep of RegretNet's optimiser settings that maximises validation revenue subject
  to validation regret <= budget (Optuna constraints); trial 0 is the default configuration;
* ``single_item_learned_train``: RegretNet (augmented Lagrangian, best feasible configuration of the sweep) or
  MyersonNet (exactly DSIC) per family and seed;
* ``single_item_learned_evaluate``: the one evaluator on the test set; RegretNet as trained (soft) and with argmax
  allocation (``regretnet_hard``), MyersonNet hard (the spec's) and softmax with envelope payments
  (``myersonnet_softmax``), both DSIC: their measured regret must be 0.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline_lib.core import io
from pipeline_lib.core import optuna_storage as ostore
from pipeline_lib.core.checkpoint import Checkpoint, checkpoint_dir_for, fingerprint, run_key
from pipeline_lib.core.device import describe_device, get_device
from pipeline_lib.core.provenance import package_versions
from pipeline_lib.core.records import SECOND
from pipeline_lib.core.seeds import stage_seed
from pipeline_lib.single_item.evaluation import evaluator, family_report
from pipeline_lib.single_item.learning import regretnet as rn
from pipeline_lib.single_item.learning import regretnet_sweep as rs
from pipeline_lib.single_item.learning.distilled_start import DistillConfig, distill
from pipeline_lib.single_item.learning.distilled_start import config_dict as distill_config
from pipeline_lib.single_item.learning.myersonnet import (
    MyersonNetConfig,
    chosen_deployment,
    config_dict,
    train_myersonnet,
    train_softmax,
    validation_revenues,
)
from pipeline_lib.single_item.learning.studies import mark_exported, resume_and_run, trial_exports
from pipeline_lib.single_item.mechanisms.myersonnet_auction import MyersonNet, MyersonNetMechanism
from pipeline_lib.single_item.mechanisms.nets import AsMechanism, SingleItemNet, model_from_payload, model_payload
from pipeline_lib.single_item.mechanisms.priors import resample_bidders, shared_map, support_upper
from pipeline_lib.stages.single_item import STUDY_FILE, load_split, make_single_item_record
from pipeline_lib.stages.single_item_models import read_model

log = logging.getLogger(__name__)
LEARNED = ("regretnet", "myersonnet")
DEPLOYMENTS = {"regretnet": ("soft", "hard"), "myersonnet": ("hard", "softmax")}  # first: the method's own row


@dataclass(frozen=True)
class RegretNetSweepFiles:
    train: str
    val: str
    start: str
    best: str
    csv: str
    json: str


def _with_upper(cfg: rn.RegretNetConfig, family_cfg: Mapping, train: np.ndarray) -> rn.RegretNetConfig:
    """Search misreports over the evaluator's range: the support bound, or 1.5 x the largest value if unbounded
    (a network never asked about bids above the training values is exploited there at test time)."""
    if cfg.misreport_upper is not None:
        return cfg
    return replace(cfg, misreport_upper=evaluator.misreport_upper(train, support_upper(family_cfg, train.shape[1])))


def _training(training: Mapping, family_cfg: Mapping, n_bidders: int, method: str) -> dict[str, Any]:
    """The training block of learned ``method`` with its family-dependent switches resolved (``resample_bidders``:
    auto = independent bidders; ``shared_map``, MyersonNet only: auto = i.i.d. bidders)."""
    key = f"single_item.{method}.training"
    block = {**training}
    block["resample_bidders"] = resample_bidders(
        training.get("resample_bidders", "auto"), family_cfg, n_bidders, f"{key}.resample_bidders"
    )
    if method == "myersonnet":
        setting = training.get("shared_map", "auto")
        block["shared_map"] = shared_map(setting, family_cfg, n_bidders, f"{key}.shared_map")
    return block


def regretnet_config(training: Mapping, family_cfg: Mapping, train: np.ndarray) -> rn.RegretNetConfig:
    """RegretNet's training configuration for a family: resampling resolved, misreports over the evaluator's range."""
    block = _training(training, family_cfg, train.shape[1], "regretnet")
    return _with_upper(rn.RegretNetConfig.from_mapping(block), family_cfg, train)


def _start_net(start_path: str | None, family: str) -> tuple[SingleItemNet, dict[str, Any]]:
    """RegretNet's starting network, the output of rule ``regretnet_start``, and its record (teacher, seed)."""
    if start_path is None:
        raise ValueError("regretnet needs its starting network regretnet/seed<k>/start.pt (input 'start')")
    net, info = model_from_payload(read_model(start_path, "single_item_net", family=family))
    keep = ("seed_index", "seed", "teacher", "teacher_seed", "teacher_deployment", "val_revenue", "val_regret",
            "wall_time_s")  # fmt: skip
    return net, {k: info.get(k) for k in keep}


TEACHERS = ("myersonnet", "none")  # RegretNet's start imitates a mechanism learned from samples, or nothing


def _teacher(kind: str, teacher_path: str | None, family: str) -> tuple[Any, int | None, str | None]:
    """The teacher mechanism of :func:`regretnet_start`, its seed index and its deployment: the family's MyersonNet
    of the paired seed (exactly DSIC, learned from the training split) in its hard deployment, or (None, None, None)
    for ``none``. Never a known optimum: the start is part of learning.

    Hard, even where MyersonNet's softmax deployment has the higher validation revenue: the critical-price head
    charges p_i = min(b_i, q_i(b_-i)) a_i, a price per unit that cannot depend on the own bid, while the softmax
    auction's envelope payment per unit does; distilled from it the start is far from truthful (quick tier, hetero:
    validation regret 4.2e-3 against 4.2e-5 from the hard teacher; docs/methods.md#regretnet-ablation)."""
    if kind not in TEACHERS:
        raise ValueError(f"single_item.regretnet.start.teacher must be one of {TEACHERS}, got {kind!r}")
    if kind == "none":
        return None, None, None
    if teacher_path is None:
        raise ValueError("regretnet start with teacher myersonnet needs the family's MyersonNet (input 'teacher')")
    payload = read_model(teacher_path, "myersonnet", family=family)
    return load_learned(payload, "hard"), payload.get("extra", {}).get("seed"), "hard"


def _checkpoint(output: str, identity: Mapping[str, Any], inputs: list[str | None]) -> Checkpoint:
    """The checkpoint of the job writing ``output`` (under results/_ckpt), keyed by ``identity`` (configuration and
    seed), the contents of the ``inputs`` and the package code: another run never resumes it."""
    key = run_key([path for path in inputs if path is not None])
    return Checkpoint(checkpoint_dir_for(output), fingerprint({**identity, "run_key": key}))


def regretnet_start(
    train_path: str, val_path: str, out_path: str, *, family: str, family_cfg: Mapping, training: Mapping,
    start: Mapping, base_seed: int, data_check: Mapping, seed_index: int = 0, warm_path: str | None = None,
    teacher_path: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Rule ``regretnet_start``: for seed ``seed_index``, the phase-1 network ``warm_path`` (``training.warm_start``)
    or a fresh one (initialised from this seed), distilled from the teacher of ``start.teacher`` (:func:`_teacher`:
    the same seed's MyersonNet) for ``start.iterations`` steps on this seed's minibatches; writes start.pt with the
    teacher, the distillation history and the start's validation revenue and regret (the one evaluator, as in the
    sweep). Resumable: the distillation checkpoints its state (:func:`_checkpoint`), removed once start.pt exists."""
    train = load_split(train_path, family, "train", data_check)
    val = load_split(val_path, family, "val", data_check)
    cfg = regretnet_config(training, family_cfg, train)
    dcfg = DistillConfig.from_mapping(start)
    kind = str(start["teacher"])
    seed = stage_seed(base_seed, family, "regretnet_start", seed_index)
    t0 = time.perf_counter()
    if cfg.warm_start:
        if warm_path is None:
            raise ValueError("regretnet with warm_start needs the family's warmstart.pt (input 'warm')")
        net, _ = model_from_payload(read_model(warm_path, "single_item_net", family=family))
        rn.check_start(net, cfg, train.shape[1])
    else:
        torch.manual_seed(seed)
        net = rn.fresh_net(train, cfg)
    teacher, teacher_seed, teacher_deployment = _teacher(kind, teacher_path, family)
    history: list[dict[str, Any]] = []
    identity = {"stage": "regretnet_start", "family": family, "seed": seed, "distill": distill_config(dcfg),
                "training": rn.config_dict(cfg), "teacher": kind}  # fmt: skip
    ckpt = _checkpoint(out_path, identity, [train_path, warm_path if cfg.warm_start else None, teacher_path])
    resumed = ckpt.load() is not None
    if teacher is not None and dcfg.iterations > 0:
        net, history = distill(net.float(), train, teacher, dcfg, float(cfg.misreport_upper), seed, ckpt)
    search = rn.validation_search(cfg, evaluator.misreport_upper(val, support_upper(family_cfg, val.shape[1])))
    vm = rn.validation_metrics(net, val[: cfg.val_profiles], search)
    vm_pair = (vm["revenue"], vm["regret_mean"])
    info = {
        "family": family, "seed_index": seed_index, "seed": seed, "teacher": kind, "teacher_seed": teacher_seed,
        "teacher_deployment": teacher_deployment, "from_phase1": bool(cfg.warm_start),
        "distill": distill_config(dcfg), "misreport_upper": cfg.misreport_upper, "history": history,
        "val_revenue": vm["revenue"], "val_regret": vm["regret_mean"], "wall_time_s": time.perf_counter() - t0,
        "resumed_from_checkpoint": resumed, "versions": package_versions(), "device": describe_device(get_device()),
    }  # fmt: skip
    log.info("regretnet start of %s (teacher %s): val revenue %.4f, regret %.5f", family, kind, *vm_pair)
    io.save_torch(model_payload(net, extra=info), out_path)
    ckpt.remove()
    return info


def _space(sweep: Mapping[str, Any]) -> dict[str, tuple[float, float, bool]]:
    space = sweep.get("space") or rs.DEFAULT_SPACE
    return {k: (float(v[0]), float(v[1]), bool(v[2]) if len(v) > 2 else True) for k, v in dict(space).items()}


def _write_sweep(files: RegretNetSweepFiles, table: pd.DataFrame, document: Mapping, payload: Mapping) -> None:
    with io.atomic_path(files.csv) as tmp:
        table.to_csv(tmp, index=False)
    io.write_json(files.json, document)
    io.write_json(files.best, payload)


def regretnet_sweep(
    files: RegretNetSweepFiles, *, family: str, family_cfg: Mapping, training: Mapping, sweep: Mapping, base_seed: int,
    data_check: Mapping,
) -> dict[str, Any]:  # fmt: skip
    """Rule ``regretnet_sweep``: the constrained sweep of one family; exports every trial and the best feasible one
    (or, when no trial met the budget, the one of least regret, marked ``feasible: false``). ``sweep`` is the
    schema-filled config block ``single_item.regretnet.sweep``; ``n_trials: 0`` is no sweep: best_params.json holds
    the configured training parameters (``feasible: null``) and the trial exports are empty."""
    train = load_split(files.train, family, "train", data_check)
    val = load_split(files.val, family, "val", data_check, sweep["val_profiles"])
    budget = float(sweep["budget"])
    base = replace(regretnet_config(training, family_cfg, train), regret_budget=budget)
    space = _space(sweep)
    seed = stage_seed(base_seed, family, "regretnet_sweep")
    n_trials = int(sweep["n_trials"])
    header = {
        "family": family, "method": "regretnet", "n_trials": n_trials, "budget": budget,
        "objective": "val_revenue subject to val_regret_mean <= budget",
    }  # fmt: skip
    t0 = time.perf_counter()
    if n_trials == 0:  # no sweep: the training block as configured, no study, no trial
        table = pd.DataFrame(columns=[*header, "number", "state", "value"])  # the trial table's columns, no row
        document = {**header, "selected_trial": None, "trials": []}
        payload = {
            **header, "params": {k: float(getattr(base, k)) for k in space}, "feasible": None, "trial_number": None,
            "val_revenue": None, "val_regret": None, "config": rn.config_dict(base), "wall_time_s": 0.0,
        }  # fmt: skip
        log.info("regretnet of %s: no sweep (n_trials 0), the configured training parameters", family)
        _write_sweep(files, table, document, payload)
        return payload
    search = replace(
        rn.validation_search(base, evaluator.misreport_upper(val, support_upper(family_cfg, val.shape[1]))),
        grid=int(sweep["val_grid"]),
    )  # the training's validation search (grid, then a short refinement) on the sweep's grid
    identity = {
        "family": family, "family_cfg": dict(family_cfg), "training": rn.config_dict(base), "budget": budget,
        "space": {k: list(v) for k, v in space.items()}, "seed": seed, "val_grid": search.grid,
        "data": {"train": len(train), "val": len(val)}, "n_bidders": int(train.shape[1]),
        "inputs_key": run_key([files.train, files.val, files.start]),
    }  # fmt: skip
    name = f"regretnet-{family}-{fingerprint(identity)[:12]}"
    storage_path = str(Path(files.best).with_name(STUDY_FILE))
    study, spec = rs.open_constrained_study(
        name, sweep.get("storage"), storage_path, seed, {"identity": identity}, fresh_after_export=True
    )
    header.update({"study_name": study.study_name, "storage": spec.describe(storage_path)})
    objective = rs.make_objective(train, val, base, seed, budget, search, space, _start_net(files.start, family)[0])
    default = {k: min(max(float(getattr(base, k)), lo), hi) for k, (lo, hi, _) in space.items()}
    max_failed = int(sweep["max_failed_trials"])
    try:
        progress = resume_and_run(study, spec, objective, n_trials, default, max_failed)
    except ostore.TooManyFailedTrials as exc:
        raise ostore.TooManyFailedTrials(f"RegretNet sweep of family {family!r} stopped: {exc}") from None
    best = rs.best_feasible_trial(study, n_trials)
    feasible = best is not None
    if best is None:
        done = sorted(
            (t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"), key=lambda t: t.number
        )[:n_trials]
        if not done:
            raise RuntimeError(f"regretnet sweep of {family}: no trial completed")
        best = min(done, key=lambda t: t.user_attrs.get("val_regret", float("inf")))
        log.warning("no trial of %s met the regret budget %g; using the trial of least regret", family, budget)
    table, document = trial_exports(study, {**header, "selected_trial": best.number})
    payload = {
        **header, "params": dict(best.params), "feasible": feasible, "objective_value": best.value,
        "trial_number": best.number, "val_revenue": best.user_attrs.get("val_revenue"),
        "val_regret": best.user_attrs.get("val_regret"), "progress": progress,
        "config": rn.config_dict(rs.replace_config(base, best.params)), "wall_time_s": time.perf_counter() - t0,
        "versions": package_versions(), "device": describe_device(get_device()),
    }  # fmt: skip
    _write_sweep(files, table, document, payload)
    mark_exported(study)  # a later (forced) run of this rule starts a fresh study
    return payload


def single_item_learned_train(
    train_path: str, val_path: str, outputs: Mapping[str, str], *, family: str, method: str, seed_index: int,
    family_cfg: Mapping, training: Mapping, base_seed: int, data_check: Mapping, best_path: str | None = None,
    start_path: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Rule ``single_item_learned_train``: train RegretNet (with the sweep's best configuration, from the starting
    network ``start_path``) or MyersonNet (hard, then its softmax deployment from it) for one family and seed;
    writes model.pt (plain tensors), history.parquet and metrics.json. Resumable: training checkpoints its whole
    state (:func:`_checkpoint`; MyersonNet's hard auction and softmax restarts alike), removed once the outputs
    exist; ``resumed_from_checkpoint`` in metrics.json says whether this run continued one."""
    train = load_split(train_path, family, "train", data_check)
    val = load_split(val_path, family, "val", data_check)
    seed = stage_seed(base_seed, family, method, seed_index)
    t0 = time.perf_counter()
    extra: dict[str, Any] = {"family": family, "method": method, "seed": seed_index, "run_seed": seed}
    identity = {"stage": "single_item_learned_train", "family": family, "method": method, "seed": seed}
    if method == "regretnet":
        if best_path is None:
            raise ValueError("regretnet training needs the sweep's best_params.json (input 'best')")
        best = io.read_json(best_path)
        cfg = rs.replace_config(regretnet_config(training, family_cfg, train), best["params"])
        cfg = replace(cfg, regret_budget=float(best.get("budget", cfg.regret_budget)))
        start_net, extra["start"] = _start_net(start_path, family)
        ckpt = _checkpoint(outputs["model"], {**identity, "config": rn.config_dict(cfg)}, [train_path, val_path,
                           best_path, start_path])  # fmt: skip
        resumed = ckpt.load() is not None
        net, history = rn.train_regretnet(train, val, cfg, seed, init_net=start_net, ckpt=ckpt)
        extra["deployed_iteration"] = rn.selected_row(history)["iteration"] if history else cfg.iterations
        payload = {"kind": "regretnet", **model_payload(net, extra={**extra, "config": rn.config_dict(cfg)})}
        extra.update({"config": rn.config_dict(cfg), "sweep_feasible": best.get("feasible")})
    elif method == "myersonnet":
        cfg = MyersonNetConfig.from_mapping(_training(training, family_cfg, train.shape[1], "myersonnet"))
        ckpt = _checkpoint(outputs["model"], {**identity, "config": config_dict(cfg)}, [train_path, val_path])
        resumed = ckpt.load() is not None
        net, history = train_myersonnet(train, val, cfg, seed, ckpt)
        payload = {"kind": "myersonnet", "config": net.config(), "state_dict": net.state_dict(), "extra": extra}
        if cfg.softmax_iterations > 0:
            soft, soft_history = train_softmax(net, train, val, cfg, seed, ckpt)
            payload["softmax"] = {"state_dict": soft.state_dict(), "temperature": cfg.softmax_temperature}
            history += soft_history
        extra["val_revenue"] = validation_revenues(history)
        extra["chosen_deployment"] = chosen_deployment(extra["val_revenue"])
        extra["config"] = {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}
    else:
        raise ValueError(f"unknown learned single-item method {method!r}; expected one of {LEARNED}")
    metrics = {
        **extra, "final": history[-1] if history else None, "selected": rn.selected_row(history),
        "wall_time_s": time.perf_counter() - t0, "resumed_from_checkpoint": resumed,
        "versions": package_versions(), "device": describe_device(get_device()),
    }  # fmt: skip
    io.save_torch(payload, outputs["model"])
    io.write_parquet(pd.DataFrame([{k: v for k, v in r.items() if k != "mu"} for r in history]), outputs["history"])
    io.write_json(outputs["metrics"], metrics)
    ckpt.remove()
    return metrics


def load_learned(payload: Mapping[str, Any], deployment: str | None = None) -> Any:
    """The evaluator mechanism of a saved learned single-item model in one of its deployments (:data:`DEPLOYMENTS`;
    None: the method's first, RegretNet as trained, MyersonNet hard)."""
    kind = payload["kind"]
    deployment = deployment or DEPLOYMENTS[kind][0]
    if deployment not in DEPLOYMENTS[kind]:
        raise ValueError(f"{kind} has no deployment {deployment!r}; expected one of {DEPLOYMENTS[kind]}")
    if kind == "myersonnet":
        net = MyersonNet(**payload["config"])
        if deployment == "softmax":
            if "softmax" not in payload:
                raise ValueError("this MyersonNet was trained without a softmax deployment (softmax_iterations 0)")
            net.double().load_state_dict(payload["softmax"]["state_dict"])
            return MyersonNetMechanism(net.eval(), "softmax", temperature=payload["softmax"]["temperature"])
        net.load_state_dict(payload["state_dict"])
        return MyersonNetMechanism(net.eval(), "hard")
    net, _ = model_from_payload(payload)
    mech = AsMechanism(net, hard=deployment == "hard")
    mech.name = "regretnet_hard" if deployment == "hard" else "regretnet"
    return mech


def deployments(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """The deployments a saved model holds (MyersonNet's softmax one only where it was trained)."""
    kind = payload["kind"]
    untrained = kind == "myersonnet" and "softmax" not in payload
    return tuple(d for d in DEPLOYMENTS[kind] if not (untrained and d == "softmax"))


def single_item_learned_evaluate(
    model_path: str, test_path: str, out_path: str, *, family: str, method: str, family_cfg: Mapping,
    evaluation: Mapping, seed_index: int, data_check: Mapping,
) -> dict[str, Any]:  # fmt: skip
    """Rule ``single_item_learned_evaluate``: the one evaluator on the test set, every deployment of the model
    (RegretNet: soft as trained and, under ``hardened``, argmax; MyersonNet: hard and, under ``softmax``, the
    softmax deployment where it was trained)."""
    device = get_device()
    max_rows = family_report.EvaluationConfig.from_mapping(evaluation).max_profiles
    values = load_split(test_path, family, "test", data_check, max_rows)
    payload = read_model(model_path, method, family=family)
    reports = []
    for deployment in deployments(payload):
        mech = load_learned(payload, deployment)
        extra_points = family_report.extra_reserve_points(getattr(mech, "params", {}))
        reports.append(
            (
                deployment,
                mech.name,
                family_report.report(mech, values, family, family_cfg, evaluation, device, extra_points),
            )
        )
    (_, _, report), *others = reports
    report["training"] = payload.get("extra", {})
    for deployment, name, sub in others:  # a second deployment of the same network: a row of its own (records.SECOND)
        report[SECOND[deployment]] = make_single_item_record(sub, family, name, seed_index)
    record = make_single_item_record(report, family, method, seed_index)
    io.write_json(out_path, record)
    return record
