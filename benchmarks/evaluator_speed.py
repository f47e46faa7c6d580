"""The single-item evaluator before and after the shortcuts of docs/methods.md#evaluator-shortcuts (issue 30, item 2):
the same saved models, deployments and test profiles, at the paper tier's evaluation settings (EvaluationConfig's
defaults), scored by the exhaustive search (``fast=False``: Adam from every start of every pair) and by the fast
one; one table of seconds, revenue and regret mean / p99 / max with their 95% bootstrap CIs, and whether the fast
figures fall inside the exhaustive evaluator's CIs.

    .venv/bin/python benchmarks/evaluator_speed.py --profiles 2000

The test split is sampled as the pipeline samples it (a family's setting from config/config.yaml, seed, split
"test", ``--rows`` rows, 10,000 as the paper's test set); the first ``--profiles`` rows are scored (the exhaustive
evaluator takes about 10 s per 100 profiles of a RegretNet on one core). One torch thread, as a pipeline job.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pipeline_lib.core import io
from pipeline_lib.core.configfiles import load_strict
from pipeline_lib.core.data import read_valuations, write_valuations
from pipeline_lib.core.settings import single_item_settings
from pipeline_lib.single_item.evaluation import evaluator as ev
from pipeline_lib.single_item.evaluation.family_report import EvaluationConfig, search_for
from pipeline_lib.stages.single_item_learned import load_learned

MODELS = {"myersonnet": ("model.pt", ("hard", "softmax")), "regretnet": ("start.pt", ("soft", "hard"))}
STATS = ("revenue", "regret_mean", "regret_p99")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", nargs="+", default=["uniform", "hetero", "exponential"])
    ap.add_argument("--methods", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--root", default="results/single_item", help="<root>/<family>/<method>/seed0/")
    ap.add_argument("--data", default="/tmp/evaluator_speed", help="where the sampled test splits are written")
    ap.add_argument("--rows", type=int, default=10000, help="rows of the sampled test split")
    ap.add_argument("--profiles", type=int, default=2000, help="the first N rows are scored by both evaluators")
    args = ap.parse_args()
    torch.set_num_threads(1)
    config = load_strict("config/config.yaml")
    settings = single_item_settings(config)
    cfg = EvaluationConfig()
    rows = []
    for family in args.families:
        split = Path(args.data) / f"{family}_test_{args.rows}.parquet"
        if not split.exists():
            split.parent.mkdir(parents=True, exist_ok=True)
            write_valuations(split, settings[family], "test", int(config["seed"]), args.rows)
        values = read_valuations(split).values[: args.profiles].astype(np.float64)
        search = search_for(values, config["single_item"]["families"][family], cfg)
        for method in args.methods:
            name, deployments = MODELS[method]
            payload = io.load_torch(Path(args.root) / family / method / "seed0" / name)
            payload.setdefault("kind", method)  # a distilled start.pt is a RegretNet payload without its kind
            for dep in deployments:
                if dep == "softmax" and "softmax" not in payload:
                    continue
                out = {}
                for label, fast in (("old", False), ("new", True)):
                    mech = load_learned(payload, dep)
                    t0 = time.perf_counter()
                    res = ev.evaluate_mechanism(
                        mech, values, ev.RegretSearch(**{**search.__dict__, "fast": fast}),
                        ev.Bootstrap(cfg.bootstrap, cfg.seed),
                    )  # fmt: skip
                    out[label] = (time.perf_counter() - t0, res.metrics, res.result.regret)
                rows.append((family, method, dep, out))
                _print_row(*rows[-1])
    print("\nsummary: seconds old -> new, speed-up; the new point estimates inside the old 95% CIs")
    t_old = sum(r[3]["old"][0] for r in rows)
    t_new = sum(r[3]["new"][0] for r in rows)
    inside = all(_inside(r[3]) for r in rows)
    print(f"total {t_old:.1f} s -> {t_new:.1f} s, x{t_old / t_new:.1f}; all inside: {inside}; profiles {args.profiles}")


def _inside(out: dict) -> bool:
    old, new = out["old"][1], out["new"][1]
    tol = 1e-12  # float64 rounding: a DSIC deployment's regret is ~1e-17 under either search
    return all(old[k]["ci"][0] - tol <= new[k]["value"] <= old[k]["ci"][1] + tol for k in STATS)


def _print_row(family: str, method: str, dep: str, out: dict) -> None:
    def fmt(m: dict, k: str) -> str:
        lo, hi = m[k]["ci"]
        return f"{m[k]['value']:.6g} [{lo:.6g}, {hi:.6g}]"

    gap = (out["new"][2] - out["old"][2]).numpy()
    print(f"\n{family} {method} {dep}  (per-pair regret new - old: min {gap.min():.2e}, max {gap.max():.2e})")
    print(f"  {'':4} {'seconds':>8}  {'revenue [CI]':<34} {'regret mean [CI]':<36} {'regret p99 [CI]':<36} max")
    for label in ("old", "new"):
        sec, m, _ = out[label]
        cols = "  ".join(f"{fmt(m, k):<34}" for k in STATS)
        print(f"  {label:4} {sec:8.1f}  {cols} {m['regret_max']['value']:.6g}")
    speed = out["old"][0] / max(out["new"][0], 1e-9)
    print(f"  speed-up x{speed:.1f}; new inside old CIs: {_inside(out)}", flush=True)


if __name__ == "__main__":
    main()
