"""RegretNet's training search: quality against time, before/after in one run.

The Lagrangian only removes the regret its inner misreport search finds; a weak search lets it buy revenue with
regret the evaluator sees later (README, RegretNet). This trains RegretNet from a family's distilled start
(rule ``regretnet_start``) once per search variant, on the same data, seed and everything else, and scores every
deployed network with the one evaluator on the test split (the config's ``single_item.evaluation``):

    .venv/bin/python benchmarks/regretnet_search.py --family exponential             # quick tier's data and start
    .venv/bin/python benchmarks/regretnet_search.py --family hetero --variants default strong --iterations 1500

Needs ``results/data/<family>/{train,val,test}.parquet`` and ``results/single_item/<family>/regretnet/start.pt``
(e.g. ``snakemake results/single_item/<family>/regretnet/start.pt --configfile config/quick.yaml``). Prints one row
per variant: training seconds, the deployed iterate, its validation revenue and regret, the test revenue as a share
of Myerson's on the same profiles (where the priors are known) and the test regret (mean per bidder, p99 of the
per-profile sum, max).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _single_item_bench import family_inputs, parser, print_table  # noqa: E402

from pipeline_lib.core import io  # noqa: E402
from pipeline_lib.single_item import regret  # noqa: E402
from pipeline_lib.single_item import regretnet as rn  # noqa: E402
from pipeline_lib.single_item.nets import AsMechanism, model_from_payload  # noqa: E402
from pipeline_lib.stages.single_item_learned import regretnet_config, regretnet_optimal  # noqa: E402

VARIANTS = {  # name -> RegretNetConfig fields changed from the tier's training block
    "default": {},
    "strong": {"grid_misreports": 64, "inner_steps": 10, "inner_lr": 0.01},
    "wide": {"grid_misreports": 64},
    "fine": {"inner_steps": 10, "inner_lr": 0.01},
}


def main() -> None:
    ap = parser(__doc__, sorted(VARIANTS), ["default", "strong"])
    ap.add_argument("--iterations", type=int, default=None, help="override the tier's training iterations")
    args = ap.parse_args()
    si, family_cfg, (train, val, test) = family_inputs(args, ("train", "val", "test"))
    evaluation = si.get("evaluation", {})
    test = test[: evaluation.get("max_profiles") or len(test)]
    start, _ = model_from_payload(
        io.load_torch(str(Path(args.root) / "single_item" / args.family / "regretnet" / "start.pt"))
    )
    base = regretnet_config(si.get("regretnet", {}).get("training", {}), family_cfg, train)
    if args.iterations:
        base = replace(base, iterations=args.iterations)
    optimal = regretnet_optimal(base, family_cfg, train.shape[1])  # the revenue ceiling's (auto: known priors)

    header = f"{'variant':8} {'train s':>8} {'iter':>5} {'val rev':>8} {'val rgt':>9} {'test rev':>8} {'vs Mye':>7} " \
             f"{'rgt mean':>9} {'rgt p99':>8} {'rgt max':>8}"  # fmt: skip
    rows = []
    for name in args.variants:
        cfg = replace(base, **VARIANTS[name])
        t0 = time.perf_counter()
        net, history = rn.train_regretnet(train, val, cfg, seed=args.seed, init_net=start, optimal=optimal)
        seconds = time.perf_counter() - t0
        chosen = rn.selected_row(history)
        rep = regret.report(AsMechanism(net), test, args.family, family_cfg, evaluation, torch.device("cpu"))
        m = rep["metrics"]
        vs = m.get("revenue_vs_myerson", {}).get("value", float("nan"))
        rows.append(
            f"{name:8} {seconds:8.0f} {chosen['iteration']:5d} {chosen['val_revenue']:8.4f} "
            f"{chosen['val_regret']:9.2e} "
            f"{m['revenue']['value']:8.4f} {vs:7.2%} {m['regret_mean']['value']:9.2e} "
            f"{m['regret_p99']['value']:8.4f} {m['regret_max']['value']:8.4f}"
        )
        print(rows[-1], flush=True)
    print_table(
        f"{args.family}, {args.configfile}, {base.iterations} iterations, seed {args.seed}, 1 thread", header, rows
    )


if __name__ == "__main__":
    main()
