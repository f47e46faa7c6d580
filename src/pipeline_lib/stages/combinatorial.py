"""Stages of the combinatorial study: one function per rule of ``workflow/rules/combinatorial.smk``.

Each reads its inputs (datasets, checked against their metadata), calls the library, and writes its outputs
atomically; nothing else in the package opens a result file. Metrics follow the one record of
:mod:`pipeline_lib.core.records`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from pipeline_lib.combinatorial.item_myerson import item_myerson_block_fn
from pipeline_lib.combinatorial.menus import (
    Checkpointing,
    RandomizedSpec,
    evaluate_menu,
    restart_checkpointing,
    train_randomized,
)
from pipeline_lib.combinatorial.starts import candidate_starts, fitted_grand_bundle_vvca, params_to_phi, rank_starts
from pipeline_lib.core import io
from pipeline_lib.core.checkpoint import checkpoint_dir_for, remove_checkpoint, run_key
from pipeline_lib.core.data import check_metadata, expected_metadata, iter_valuations, read_metadata, read_valuations
from pipeline_lib.core.device import describe_device, get_device
from pipeline_lib.core.provenance import package_versions
from pipeline_lib.core.records import make_record
from pipeline_lib.core.seeds import seed_record, vvca_run_seed
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig
from pipeline_lib.vvca.evaluate import evaluate_blocks, evaluate_on, vvca_block_fn
from pipeline_lib.vvca.mechanism import VVCAParams
from pipeline_lib.vvca.parametrisation import Parametrisation
from pipeline_lib.vvca.zfo import TrainResult, history_frame, train

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunFiles:
    """Inputs (the three splits) and outputs (parameters, history, metrics) of one training run."""

    train: str
    val: str
    test: str
    params: str
    history: str
    metrics: str
    # ZFO-VVCA+ only: the ZFO-VVCA run of the same setting and seed, which is its restart from VCG (see _reused_run)
    zfo_params: str | None = None
    zfo_history: str | None = None
    zfo_metrics: str | None = None


@dataclass(frozen=True)
class ReusedRun:
    """A finished ZFO-VVCA run standing in for ZFO-VVCA+'s restart from VCG, and its last iterate's test record."""

    result: TrainResult
    test_last: dict[str, Any]  # {"revenue": the record of its last iterate on the test split}


def _read(path: str, setting: str, split: str, data_check: Mapping[str, Any], **expected: Any):
    """One split of a combinatorial setting, checked: setting, split, the config's base seed and split size
    (``data_check``, see :func:`pipeline_lib.core.data.expected_metadata`), ``expected``, values in the support."""
    return read_valuations(
        path, setting=setting, kind="combinatorial", **expected_metadata(data_check, split), **expected
    )


def _sources(
    files: RunFiles, setting: str, n: int, m: int, device: torch.device, data_check: Mapping[str, Any]
) -> dict[str, BidSource]:
    out = {}
    for split in ("train", "val", "test"):
        vs = _read(getattr(files, split), setting, split, data_check, n=n, m=m)
        out[split] = BidSource.from_valuation_set(vs, device)
    return out


UNTRAINABLE_STARTS = ("grand_bundle",)


def _reused_run(
    files: RunFiles, cfg: TrainConfig, seq: Any, n: int, m: int, data: Mapping[str, int]
) -> ReusedRun | None:
    """ZFO-VVCA+'s restart from VCG, read from the finished ZFO-VVCA run of the same setting and seed, or None.

    The restart from VCG runs Algorithm 3 with the same hyperparameters, the same run seed (so the same minibatches
    and directions, :func:`pipeline_lib.core.seeds.vvca_run_seed` does not depend on the method) from the same
    start (phi = 0) as ZFO-VVCA itself, so it IS that run: reading it halves the cost of ZFO-VVCA+ at two restarts.
    The run is reused only when its record says so (method, config but the method's name, run seed, sizes, split
    sizes); otherwise the restart is trained (a warning names the keys that differ)."""
    if files.zfo_metrics is None or files.zfo_params is None or files.zfo_history is None:
        return None
    record = io.read_json(files.zfo_metrics)
    expected = io.json_roundtrip(
        {
            "method": "zfo_vvca",
            "config": {**asdict(cfg), "method": "zfo_vvca"},
            "run_seed": seed_record(seq),
            "n": n,
            "m": m,
            "data": dict(data),
        }
    )  # as the record reads back from its JSON file
    differ = [key for key, value in expected.items() if record.get(key) != value]
    if differ:
        log.warning(
            "ZFO-VVCA+: not reusing %s (keys %s differ); training the restart from VCG", files.zfo_metrics, differ
        )
        return None
    payload = io.load_torch(files.zfo_params)
    phi = params_to_phi(VVCAParams(payload["alpha"], payload["boosts"]), Parametrisation.full(n, m))
    history = io.read_parquet(files.zfo_history).to_dict("records")
    result = TrainResult(
        phi, history, float(record["train_seconds"]), int(record["resumed_from_iteration"]), record["best_val_revenue"]
    )
    log.info("ZFO-VVCA+: the restart from VCG is the ZFO-VVCA run %s (reused, not retrained)", files.zfo_metrics)
    return ReusedRun(result, {"revenue": record["test_revenue_last_iterate"]})


def _zfo_plus(
    sources: Mapping[str, BidSource], parametrisation: Parametrisation, cfg: TrainConfig, seq: Any,
    ckpt_dir: Any, key: str, n: int, m: int, distribution: str, restarts: int, reused: ReusedRun | None = None,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """ZFO-VVCA+ (docs/methods.md#zfo-vvca-plus): rank every candidate start of
    :mod:`pipeline_lib.combinatorial.starts` on the validation split, run Algorithm 3 unchanged (same
    hyperparameters, same minibatches and directions) from the ``restarts - 1`` best trainable starts and from VCG
    (the paper's own path, so ZFO-VVCA+ never loses it), and keep the run with the best validation revenue.
    ``reused`` (:func:`_reused_run`), when given, is the run from VCG, not trained again.

    The grand-bundle start is scored but not trained from: its partial-bundle boosts are prohibitive (-K), so they
    never win on any profile, their gradient is zero and no step of the algorithm can leave that mechanism (measured:
    2x5(A) stays at its start, 2.197, where the Myerson-shaped start reaches 2.26-2.31)."""
    t0 = time.perf_counter()
    ranked = rank_starts(candidate_starts(n, m, distribution, sources["train"].values.cpu().numpy()), sources["val"])
    trainable = [r for r in ranked if r.name not in UNTRAINABLE_STARTS and r.name != "vcg"]
    chosen = [*trainable[: max(0, restarts - 1)], next(r for r in ranked if r.name == "vcg")]
    ranking_seconds = time.perf_counter() - t0
    runs = {}
    for start in chosen:
        if start.name == "vcg" and reused is not None:
            runs[start.name] = reused.result
            continue
        log.info("ZFO-VVCA+: training from start %s (validation revenue %.4f)", start.name, start.val_revenue)
        device = sources["train"].device
        runs[start.name] = train(
            sources["train"], parametrisation, cfg, seq, sources["val"], Path(ckpt_dir) / start.name,
            init_phi=start.phi.to(device), run_key=key,
        )  # fmt: skip
    best = max(runs, key=lambda name: runs[name].best_val if runs[name].best_val is not None else -math.inf)
    for name in runs:
        remove_checkpoint(Path(ckpt_dir) / name)
    info = {
        "start": best,
        "start_candidates": {r.name: r.val_revenue for r in ranked},
        "restarts": {name: r.best_val for name, r in runs.items()},
        "start_seconds": ranking_seconds,
        "restart_train_seconds": {name: r.train_seconds for name, r in runs.items()},
        "reused_zfo_vvca_run": reused is not None,
    }
    log.info("ZFO-VVCA+: kept the run from %s (best validation revenues %s)", best, info["restarts"])
    return runs[best], info


def zfo_run(
    files: RunFiles,
    *,
    setting: str,
    method: str,
    seed_index: int,
    n: int,
    m: int,
    base_seed: int,
    config: Mapping,
    data_check: Mapping,
    distribution: str = "A",
    restarts: int | None = None,
) -> dict[str, Any]:
    """Rule ``zfo_run``: train one ZFO-/FO-/BBB-VVCA run (Algorithm 3 from VCG) or ZFO-VVCA+ (:func:`_zfo_plus`),
    evaluate it exactly on the test set and write ``params.pt`` ({alpha, boosts, ...}), ``history.parquet`` and
    ``metrics.json`` (for ZFO-VVCA+ also the start used, every candidate's validation revenue and the cost).

    Checkpoints go to :func:`checkpoint_dir_for` of the parameters file and are removed on completion.
    """
    cfg = TrainConfig(**config)
    reused_test_last = None
    if method != cfg.method:
        raise ValueError(f"method {method!r} but config for {cfg.method!r}")
    device = get_device()
    wall0 = time.perf_counter()
    sources = _sources(files, setting, n, m, device, data_check)
    data = {split: len(source) for split, source in sources.items()}
    seq = vvca_run_seed(base_seed, setting, seed_index)
    parametrisation = Parametrisation.full(n, m)
    ckpt_dir = checkpoint_dir_for(files.params)
    key = run_key([files.train, files.val])  # a forced run on regenerated data or changed code starts afresh
    log.info("training %s on %s seed %d: %s on %s", method, setting, seed_index, asdict(cfg), describe_device(device))
    if method == "zfo_vvca_plus":
        if restarts is None:
            raise ValueError("zfo_vvca_plus needs combinatorial.zfo_plus.restarts (params 'restarts' of rule zfo_run)")
        reused = _reused_run(files, cfg, seq, n, m, data)
        result, start_info = _zfo_plus(
            sources, parametrisation, cfg, seq, ckpt_dir, key, n, m, distribution, restarts, reused
        )
        if reused is not None and result is reused.result:
            reused_test_last = reused.test_last
    else:
        result = train(sources["train"], parametrisation, cfg, seq, sources["val"], ckpt_dir, run_key=key)
        start_info = {"start": "vcg"}
    params = parametrisation.params(result.phi)
    test = evaluate_on(sources["test"], params)
    test_last = test if reused_test_last is None else reused_test_last
    if result.last_phi is not None and not torch.equal(result.last_phi, result.phi):
        test_last = evaluate_on(sources["test"], parametrisation.params(result.last_phi))
    payload = {
        "alpha": params.alpha.detach().cpu(),
        "boosts": params.boosts.detach().cpu(),
        "setting": setting,
        "method": method,
        "seed": seed_index,
        "n": n,
        "m": m,
    }
    metrics = make_record(
        setting=setting,
        method=method,
        seed=seed_index,
        **algorithm3_fields(result, test, test_last),
        **start_info,
        run_seed=seed_record(seq),
        train_seconds=result.train_seconds,
        wall_time_s=time.perf_counter() - wall0,
        resumed_from_iteration=result.resumed_from,
        device=describe_device(device),
        config=asdict(cfg),
        data=data,
        base_seed=base_seed,
        n=n,
        m=m,
        versions=package_versions(),
    )
    io.save_torch(payload, files.params)
    io.write_parquet(history_frame(result.history), files.history)
    io.write_json(files.metrics, metrics)
    remove_checkpoint(ckpt_dir)
    rev = test["revenue"]
    log.info("test revenue %.4f +- %.4f (%d profiles)", rev["mean"], rev["se"], rev["n_profiles"])
    return metrics


def algorithm3_fields(result: Any, test: Mapping[str, Any], test_last: Mapping[str, Any]) -> dict[str, Any]:
    """The record fields every Algorithm 3 run reports (VVCA or AMA): test revenue, welfare, IR and payments of the
    selected parameters, the last iterate's test revenue, the last and best validation revenue."""
    val_revenues = [r["val_revenue"] for r in result.history if not math.isnan(r["val_revenue"])]
    return {
        "test_revenue": test["revenue"],
        "welfare": test["welfare"],
        "ir": test["ir"],
        "payments_per_bidder": test["payments_per_bidder"],
        "test_revenue_last_iterate": test_last["revenue"],
        "val_revenue": val_revenues[-1] if val_revenues else None,
        "best_val_revenue": result.best_val,
    }


def randomized_run(
    files: RunFiles, spec: RandomizedSpec, *, data_check: Mapping, on_step: Any = None
) -> dict[str, Any]:
    """Rule ``randomized_run``: train one Lottery AMA / AMenuNet (``spec.restarts`` initialisations, the best on
    validation kept), select on validation, test once (hard argmax, exact payments), write ``params.pt`` (model
    state, the selected menu, config), ``history.parquet`` (of the kept restart), ``metrics.json``.

    Checkpoints (every ``spec.checkpoint_every`` steps) go to :func:`checkpoint_dir_for` of the parameters file, are
    resumed when the run's config, inputs and code match, and are removed on completion."""
    device = get_device()
    start = time.perf_counter()
    splits = {}
    for split in ("train", "val"):
        data = _read(getattr(files, split), spec.setting, split, data_check, n=spec.n, m=spec.m, valuation="additive")
        splits[split] = torch.as_tensor(data.values, dtype=torch.float32, device=device)
    ckpt_dir = checkpoint_dir_for(files.params)
    checkpointing = Checkpointing(str(ckpt_dir), run_key([files.train, files.val]))
    trained = train_randomized(spec, splits["train"], splits["val"], checkpointing, on_step=on_step)
    del splits
    test = _read(files.test, spec.setting, "test", data_check, n=spec.n, m=spec.m, valuation="additive")
    summary = evaluate_menu(trained.menu, torch.as_tensor(test.values, dtype=torch.float32, device=device))
    metrics = make_record(
        setting=spec.setting,
        method=spec.method,
        seed=spec.seed_index,
        test_revenue=summary["revenue"],
        welfare=summary["welfare"],
        ir=summary["ir"],
        payments_per_bidder=summary["payments_per_bidder"],
        menu_entries_used=summary["menu_entries_used"],
        reduced_budget=spec.reduced_budget,
        run_seed=seed_record(trained.seed),
        wall_time_s=time.perf_counter() - start,
        train_time_s=trained.result.train_time_s,
        val_revenue=trained.result.val_revenue,
        best_step=trained.result.best_step,
        restart=trained.restart,
        restart_val_revenues=list(trained.restart_val_revenues),
        resumed_from_step=trained.result.resumed_from_step,
        menu_size=spec.menu_size,
        device=describe_device(device),
        config=trained.config,
        versions=package_versions(),
    )
    io.save_torch(
        {
            "method": spec.method,
            "state_dict": {k: v.cpu() for k, v in trained.result.state_dict.items()},
            "menu": {k: v.cpu() for k, v in trained.menu.as_dict().items()},
            "config": trained.config,
        },
        files.params,
    )
    io.write_parquet(trained.result.history, files.history)
    io.write_json(files.metrics, metrics)
    for r in range(spec.restarts):
        remove_checkpoint(restart_checkpointing(checkpointing, r, spec.restarts).ckpt_dir)
    log.info(
        "%s on %s seed %d: test revenue %.4f +- %.4f, val %.4f at step %d",
        spec.method, spec.setting, spec.seed_index, summary["revenue"]["mean"], summary["revenue"]["se"],
        trained.result.val_revenue, trained.result.best_step,
    )  # fmt: skip
    return metrics


def combinatorial_baseline(
    test_path: str,
    out_path: str,
    *,
    baseline: str,
    setting: str,
    data_check: Mapping,
    block_rows: int = 4096,
    train_path: str | None = None,
) -> dict[str, Any]:
    """Rule ``combinatorial_baseline``: evaluate VCG (the VVCA with w = 1, lambda = 0), exact Item-Myerson, or
    grand-bundle Myerson (only the grand bundle is sold, each bidder's reserve the empirical Myerson reserve of its
    bundle value on the training split; a VVCA with prohibitive partial-bundle boosts) on the test set in float64
    and write ``results/baselines/{setting}/{baseline}.json``."""
    device, dtype = get_device(), torch.float64
    expected = {"kind": "combinatorial", "setting": setting, **expected_metadata(data_check, "test")}
    meta = read_metadata(test_path)
    check_metadata(Path(test_path), meta, expected)  # before anything is built from the metadata
    n, m, distribution, layout = meta["n"], meta["m"], meta["distribution"], meta["valuation"]
    if baseline == "vcg":
        block_fn = vvca_block_fn(VVCAParams.vcg(n, m), layout, device, dtype)
    elif baseline == "bundle_myerson":
        if train_path is None:
            raise ValueError("bundle_myerson fits its reserves on the training split (input 'train')")
        train = _read(train_path, setting, "train", data_check, n=n, m=m)
        params = fitted_grand_bundle_vvca(train.values, layout == "additive", dtype=dtype)
        block_fn = vvca_block_fn(params, layout, device, dtype)
    elif baseline == "item_myerson":
        if layout != "additive":
            raise ValueError(f"Item-Myerson needs additive valuations; {meta['setting']} is {layout!r}")
        block_fn = item_myerson_block_fn(distribution, n, device, dtype)
    else:
        raise ValueError(f"unknown combinatorial baseline {baseline!r}; expected vcg, item_myerson, bundle_myerson")
    start = time.perf_counter()
    blocks = iter_valuations(test_path, batch_rows=block_rows, **expected)
    summary = evaluate_blocks(blocks, block_fn, dtype)
    seconds = time.perf_counter() - start
    record = make_record(
        setting=setting,
        method=baseline,
        seed=0,
        test_revenue=summary["revenue"],
        welfare=summary["welfare"],
        ir=summary["ir"],
        payments_per_bidder=summary["payments_per_bidder"],
        baseline=baseline,
        n=n,
        m=m,
        distribution=distribution,
        split=meta["split"],
        data_seed=meta["seed"],
        dtype=str(dtype).removeprefix("torch."),
        seconds=seconds,
        versions=package_versions(),
        device=describe_device(device),
    )
    io.write_json(out_path, record)
    rev = summary["revenue"]
    log.info(
        "%s on %s: revenue %.4f +- %.4f (%d profiles)", baseline, setting, rev["mean"], rev["se"], rev["n_profiles"]
    )
    return record
