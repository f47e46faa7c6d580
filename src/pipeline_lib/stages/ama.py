"""Stage of rule ``ama_run``: the deterministic AMA over every allocation (``zfo_ama``) and its bundle-symmetric
variant (``zfo_ama_sym``), trained by Algorithm 3 from the best starts (``docs/methods.md``, section "Deterministic
AMA over every allocation"), evaluated exactly on the test split with a random-misreport DSIC check.
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

from pipeline_lib.combinatorial import deterministic_ama as ama
from pipeline_lib.combinatorial.ama_family import AMAFamily
from pipeline_lib.combinatorial.ama_starts import SearchConfig, rank, symmetric_candidates
from pipeline_lib.core import io
from pipeline_lib.core.checkpoint import checkpoint_dir_for, remove_checkpoint, run_key
from pipeline_lib.core.data import expected_metadata, read_valuations
from pipeline_lib.core.device import describe_device, get_device
from pipeline_lib.core.provenance import package_versions
from pipeline_lib.core.records import make_record
from pipeline_lib.core.seeds import seed_record, seed_sequence, vvca_run_seed
from pipeline_lib.stages.combinatorial import algorithm3_fields
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig
from pipeline_lib.vvca.mechanism import VVCAParams
from pipeline_lib.vvca.zfo import history_frame, train

log = logging.getLogger(__name__)
DSIC_PROFILES = 2000  # test profiles of the misreport check
DSIC_TRIALS = 8  # misreports per profile and bidder


@dataclass(frozen=True)
class AmaFiles:
    """Inputs: the three splits, ZFO-VVCA+'s run of the seed (its lift is a start) and, for ``zfo_ama``, the
    bundle-symmetric run of the seed (another start). Outputs: parameters, history, metrics."""

    train: str
    val: str
    test: str
    vvca_plus: str
    params: str
    history: str
    metrics: str
    symmetric: str | None = None


def _sources(files: AmaFiles, setting: str, n: int, m: int, device: torch.device, data_check: Mapping[str, Any]):
    out = {}
    for split in ("train", "val", "test"):
        vs = read_valuations(
            getattr(files, split), setting=setting, kind="combinatorial", n=n, m=m,
            **expected_metadata(data_check, split),
        )  # fmt: skip
        out[split] = BidSource.from_valuation_set(vs, device)
    return out


def _starts(
    files: AmaFiles, family: AMAFamily, method: str, sources: Mapping[str, BidSource], search: SearchConfig
) -> dict[str, torch.Tensor]:
    """VCG, the lift of ZFO-VVCA+'s run, and the symmetric run (``zfo_ama``) or the symmetric search
    (``zfo_ama_sym``), each as a phi of ``family``."""
    plus = io.load_torch(files.vvca_plus)
    lifted = ama.lift_vvca(VVCAParams(plus["alpha"].double(), plus["boosts"].double()))
    starts = {"vcg": torch.zeros(family.dim), "vvca_plus": family.phi_of(lifted)}
    if method == "zfo_ama":
        if files.symmetric is not None:
            sym = io.load_torch(files.symmetric)
            starts["zfo_ama_sym"] = family.phi_of(ama.AMAParams(sym["alpha"], sym["boosts"]))
        return starts
    return symmetric_candidates(family, starts, sources["train"].bids(slice(None)), search)


def ama_run(
    files: AmaFiles,
    *,
    setting: str,
    method: str,
    seed_index: int,
    n: int,
    m: int,
    base_seed: int,
    config: Mapping,
    data_check: Mapping,
    distribution: str,
    restarts: int,
    search: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Rule ``ama_run``: rank the starts on the validation split, run Algorithm 3 (Table 3 hyperparameters, the
    VVCA runs' seed: same minibatches and directions) from the ``restarts`` best, keep the run with the best
    validation revenue (its best iterate, the start included), evaluate it exactly on the test split, check DSIC by
    random misreports, and write ``params.pt`` ({alpha, boosts over all (n+1)^m allocations, phi, ...}),
    ``history.parquet`` and ``metrics.json``. ``search`` overrides the symmetric search's budget
    (:class:`~pipeline_lib.combinatorial.ama_starts.SearchConfig`, config ``combinatorial.ama.search``)."""
    cfg = TrainConfig(**config)
    search_cfg = SearchConfig.from_mapping(search)
    if method != cfg.method or method not in ("zfo_ama", "zfo_ama_sym"):
        raise ValueError(f"method {method!r} with a config for {cfg.method!r}")
    device = get_device()
    wall0 = time.perf_counter()
    sources = _sources(files, setting, n, m, device, data_check)
    family = AMAFamily.full(n, m) if method == "zfo_ama" else AMAFamily.symmetric(n, m, distribution)
    seq = vvca_run_seed(base_seed, setting, seed_index)
    t0 = time.perf_counter()
    ranked = rank(family, _starts(files, family, method, sources, search_cfg), sources["val"])
    start_seconds = time.perf_counter() - t0
    ckpt_dir = checkpoint_dir_for(files.params)
    key = run_key([files.train, files.val, files.vvca_plus, *([files.symmetric] if files.symmetric else [])])
    runs = {}
    for start in ranked[:restarts]:
        log.info("%s: training from %s (validation revenue %.4f)", method, start.name, start.val_revenue)
        runs[start.name] = train(
            sources["train"], family, cfg, seq, sources["val"], Path(ckpt_dir) / start.name,
            init_phi=start.phi.to(device), run_key=key,
        )  # fmt: skip
    best = max(runs, key=lambda k: runs[k].best_val if runs[k].best_val is not None else -math.inf)
    result = runs[best]
    test = family.evaluate(sources["test"], result.phi)
    test_last = family.evaluate(sources["test"], result.last_phi) if result.last_phi is not None else test
    params = family.params(result.phi.to(device))
    bundles = family.bundles.to(device)
    generator = torch.Generator().manual_seed(
        int(seed_sequence(base_seed, setting, "ama_dsic", seed_index).generate_state(1)[0])
    )
    dsic = ama.misreport_check(
        sources["test"].bids(slice(0, DSIC_PROFILES)).double(),
        params.to(dtype=torch.float64),
        bundles,
        generator,
        DSIC_TRIALS,
    )
    metrics = make_record(
        setting=setting,
        method=method,
        seed=seed_index,
        **algorithm3_fields(result, test, test_last),
        dsic_check=dsic,
        start=best,
        start_candidates={c.name: c.val_revenue for c in ranked},
        restarts={k: r.best_val for k, r in runs.items()},
        restart_train_seconds={k: r.train_seconds for k, r in runs.items()},
        start_seconds=start_seconds,
        family=family.name,
        parameters=family.dim,
        outcomes=ama.outcome_count(n, m),
        run_seed=seed_record(seq),
        train_seconds=sum(r.train_seconds for r in runs.values()),
        wall_time_s=time.perf_counter() - wall0,
        device=describe_device(device),
        config=asdict(cfg),
        data={split: len(source) for split, source in sources.items()},
        base_seed=base_seed,
        n=n,
        m=m,
        versions=package_versions(),
    )
    payload = {
        "alpha": params.alpha.detach().cpu(),
        "boosts": params.boosts.detach().cpu(),
        "phi": result.phi.detach().cpu(),
        "family": family.name,
        "setting": setting,
        "method": method,
        "seed": seed_index,
        "n": n,
        "m": m,
    }
    io.save_torch(payload, files.params)
    io.write_parquet(history_frame(result.history), files.history)
    io.write_json(files.metrics, metrics)
    for name in runs:
        remove_checkpoint(Path(ckpt_dir) / name)
    rev = test["revenue"]
    log.info(
        "%s on %s seed %d: start %s, validation %.4f, test %.4f +- %.4f, DSIC check %s",
        method, setting, seed_index, best, result.best_val, rev["mean"], rev["se"], dsic,
    )  # fmt: skip
    return metrics
