"""Revenue of the trained AMA over every allocation (zfo_ama) and of ZFO-VVCA+ on a fresh sample, with standard
errors and the paired difference (same profiles for both), per setting and seed.

    .venv/bin/python benchmarks/ama_fresh_sample.py                       # Table 2(a) settings, seeds 0-2, 200,000
    .venv/bin/python benchmarks/ama_fresh_sample.py --settings 2x2_A --profiles 50000

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
from pipeline_lib.core import io
from pipeline_lib.core.seeds import seed_sequence
from pipeline_lib.valuations.combinatorial import additive_bundle_values, sample_combinatorial
from pipeline_lib.vvca.mechanism import VVCAParams, evaluate_vvca

SETTINGS = {"2x2_A": (2, 2, "A"), "2x2_D": (2, 2, "D"), "2x5_A": (2, 5, "A"), "2x5_C": (2, 5, "C"),
            "5x3_C": (5, 3, "C"), "5x3_B": (5, 3, "B")}  # fmt: skip
BLOCK = 20000


def per_profile_revenues(setting: str, seed: int, profiles: int, base_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Revenue per fresh profile of (zfo_ama, zfo_vvca_plus) for one setting and seed."""
    n, m, dist = SETTINGS[setting]
    rng = np.random.default_rng(seed_sequence(base_seed, setting, "fresh_sample", seed))
    run = f"results/combinatorial/{setting}/{{}}/seed{seed}/params.pt"
    a = io.load_torch(run.format("zfo_ama"))
    v = io.load_torch(run.format("zfo_vvca_plus"))
    amap = ama.AMAParams(a["alpha"].double(), a["boosts"].double())
    vvca = VVCAParams(v["alpha"].double(), v["boosts"].double())
    bundles = ama.outcome_bundles(n, m)
    out_a, out_v = [], []
    for start in range(0, profiles, BLOCK):
        values = torch.from_numpy(sample_combinatorial(rng, min(BLOCK, profiles - start), n, m, dist))
        bids = values if dist == "D" else additive_bundle_values(values)
        out_a.append(ama.evaluate_ama(bids, amap, bundles).revenue.numpy())
        out_v.append(evaluate_vvca(bids, vvca).revenue.numpy())
    return np.concatenate(out_a), np.concatenate(out_v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--profiles", type=int, default=200_000)
    parser.add_argument("--base-seed", type=int, default=20240217, help="config seed (config/config.yaml: seed)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"fresh sample of {args.profiles:,} profiles per (setting, seed); mean +- SE")
    print("| setting | seed | zfo_ama | zfo_vvca_plus | difference (paired) | relative |")
    print("|---|---|---|---|---|---|")
    for setting in args.settings:
        for seed in args.seeds:
            if not Path(f"results/combinatorial/{setting}/zfo_ama/seed{seed}/params.pt").exists():
                print(f"| {setting} | {seed} | not run | | | |")
                continue
            rev_a, rev_v = per_profile_revenues(setting, seed, args.profiles, args.base_seed)
            diff = rev_a - rev_v
            se = [x.std(ddof=1) / math.sqrt(len(x)) for x in (rev_a, rev_v, diff)]
            print(
                f"| {setting} | {seed} | {rev_a.mean():.4f} ± {se[0]:.4f} | {rev_v.mean():.4f} ± {se[1]:.4f} | "
                f"{diff.mean():+.4f} ± {se[2]:.4f} | {100 * diff.mean() / rev_v.mean():+.2f}% |",
                flush=True,
            )


if __name__ == "__main__":
    main()
