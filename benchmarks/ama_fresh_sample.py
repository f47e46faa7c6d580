"""Revenue of the trained AMA over every allocation (zfo_ama) and of ZFO-VVCA+ on a fresh sample, with standard
errors and the paired difference (same profiles for both), per setting and seed.

    .venv/bin/python benchmarks/ama_fresh_sample.py                       # Table 2(a) settings, seeds 0-2, 200,000
    .venv/bin/python benchmarks/ama_fresh_sample.py --settings 2x2_A --profiles 50000
    .venv/bin/python benchmarks/ama_fresh_sample.py --settings 2x2_A --ceiling   # plus a brute-force search

``--ceiling`` adds, where the bundle-symmetric family has at most three boosts (2x2), the best bundle-symmetric AMA a
brute-force search finds on its own sample (a stream no split uses, ``--ceiling-profiles``): a grid of 21 values per
boost in [-1.5, 0.5] (weights 1), then a coordinate search with steps 0.05 to 0.002; it is scored on each seed's
fresh sample beside ZFO-VVCA+ of that seed. A reference for the tables' discussion (docs/methods.md#ama-ceiling),
never a start of any run; a local search (on 2x2(D) it stays below zfo_ama).

Reads results/combinatorial/{setting}/{method}/seed{k}/params.pt of a finished run (quick tier: run its targets
first). The fresh profiles come from a seed stream no split uses (``fresh_sample``); ZFO-VVCA+ is evaluated by its
own dynamic program (Algorithm 2), the AMA by its outcome enumeration, both in float64.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from pipeline_lib.combinatorial import deterministic_ama as ama
from pipeline_lib.combinatorial.ama_family import AMAFamily
from pipeline_lib.combinatorial.ama_starts import SearchConfig, coordinate_search, grid_search
from pipeline_lib.core import io
from pipeline_lib.core.seeds import seed_sequence
from pipeline_lib.valuations.combinatorial import additive_bundle_values, sample_combinatorial
from pipeline_lib.vvca.mechanism import VVCAParams, evaluate_vvca

SETTINGS = {"2x2_A": (2, 2, "A"), "2x2_D": (2, 2, "D"), "2x5_A": (2, 5, "A"), "2x5_C": (2, 5, "C"),
            "5x3_C": (5, 3, "C"), "5x3_B": (5, 3, "B")}  # fmt: skip
BLOCK = 20000


def _bids(rng: np.random.Generator, rows: int, n: int, m: int, dist: str) -> torch.Tensor:
    values = torch.from_numpy(sample_combinatorial(rng, rows, n, m, dist))
    return values if dist == "D" else additive_bundle_values(values)


def symmetric_ceiling(setting: str, profiles: int, base_seed: int) -> ama.AMAParams | None:
    """The best bundle-symmetric AMA of a brute-force search on its own sample (None where the family has more
    boosts than the start search grids, SearchConfig.grid_max_dim)."""
    n, m, dist = SETTINGS[setting]
    family = AMAFamily.symmetric(n, m, dist)
    if family.n_boosts > SearchConfig().grid_max_dim:
        return None
    rng = np.random.default_rng(seed_sequence(base_seed, setting, "ceiling_search"))
    bids = _bids(rng, profiles, n, m, dist)
    phi = grid_search(family, bids[:20000], 21, -1.5, 0.5)
    phi = coordinate_search(family, bids, phi, (0.05, 0.02, 0.01, 0.005, 0.002), 3)
    return family.params(phi.double())


def per_profile_revenues(
    setting: str, seed: int, profiles: int, base_seed: int, extra: ama.AMAParams | None = None
) -> list[np.ndarray]:
    """Revenue per fresh profile of (zfo_ama, zfo_vvca_plus[, extra]) for one setting and seed."""
    n, m, dist = SETTINGS[setting]
    rng = np.random.default_rng(seed_sequence(base_seed, setting, "fresh_sample", seed))
    run = f"results/combinatorial/{setting}/{{}}/seed{seed}/params.pt"
    a = io.load_torch(run.format("zfo_ama"))
    v = io.load_torch(run.format("zfo_vvca_plus"))
    amas = [ama.AMAParams(a["alpha"].double(), a["boosts"].double()), *([extra] if extra is not None else [])]
    vvca = VVCAParams(v["alpha"].double(), v["boosts"].double())
    bundles = ama.outcome_bundles(n, m)
    out_amas: list[list[np.ndarray]] = [[] for _ in amas]
    out_v: list[np.ndarray] = []
    for start in range(0, profiles, BLOCK):
        bids = _bids(rng, min(BLOCK, profiles - start), n, m, dist)
        for out, params in zip(out_amas, amas, strict=True):
            out.append(ama.evaluate_ama(bids, params, bundles).revenue.numpy())
        out_v.append(evaluate_vvca(bids, vvca).revenue.numpy())
    first, *rest = (np.concatenate(x) for x in out_amas)
    return [first, np.concatenate(out_v), *rest]


def _row(setting: str, seed: int | str, name: str, rev: np.ndarray, base: np.ndarray) -> str:
    diff = rev - base
    se = [x.std(ddof=1) / math.sqrt(len(x)) for x in (rev, base, diff)]
    return (
        f"| {setting} | {seed} | {name} | {rev.mean():.4f} ± {se[0]:.4f} | {base.mean():.4f} ± {se[1]:.4f} | "
        f"{diff.mean():+.4f} ± {se[2]:.4f} | {100 * diff.mean() / base.mean():+.2f}% |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--profiles", type=int, default=200_000)
    parser.add_argument("--base-seed", type=int, default=20240217, help="config seed (config/config.yaml: seed)")
    parser.add_argument("--ceiling", action="store_true", help="add a brute-force bundle-symmetric AMA (2x2)")
    parser.add_argument("--ceiling-profiles", type=int, default=100_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"fresh sample of {args.profiles:,} profiles per (setting, seed); mean +- SE")
    print("| setting | seed | mechanism | revenue | zfo_vvca_plus | difference (paired) | relative |")
    print("|---|---|---|---|---|---|---|")
    for setting in args.settings:
        ceiling = symmetric_ceiling(setting, args.ceiling_profiles, args.base_seed) if args.ceiling else None
        for seed in args.seeds:
            if not Path(f"results/combinatorial/{setting}/zfo_ama/seed{seed}/params.pt").exists():
                print(f"| {setting} | {seed} | not run | | | | |")
                continue
            revs = per_profile_revenues(setting, seed, args.profiles, args.base_seed, ceiling)
            print(_row(setting, seed, "zfo_ama", revs[0], revs[1]), flush=True)
            if ceiling is not None:
                print(_row(setting, seed, "bundle-symmetric brute-force search", revs[2], revs[1]), flush=True)
        if ceiling is not None:
            print(
                f"{setting} brute-force search: weights {ceiling.alpha.exp().tolist()}, boosts "
                f"{[round(x, 3) for x in ceiling.boosts.tolist()]}"
            )


if __name__ == "__main__":
    main()
