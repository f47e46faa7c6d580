"""RegretNet's training search: quality against time, before/after in one run, scored on validation only.

The Lagrangian only removes the regret its inner misreport search finds, and best-feasible selection deploys the
richest iterate within the regret budget, so regret buys revenue up to the budget (docs/methods.md#regretnet). This
trains RegretNet once per variant (search strength, budget, start, length), on the same data and seed, and scores
every deployed network with the tier's evaluator (``single_item.evaluation``) on validation profiles that selection
did not see (``val[val_profiles:]``): never the test split, never a known optimum. The revenue column is relative to
the start's on the same profiles (the start: the family's MyersonNet distilled, itself learned from samples).

    .venv/bin/python benchmarks/regretnet_search.py --family exponential             # quick tier's data and start
    .venv/bin/python benchmarks/regretnet_search.py --family hetero --variants default budget-1e-4 no-start

Needs ``results/data/<family>/{train,val}.parquet`` and ``results/single_item/<family>/regretnet/seed<k>/start.pt``
(e.g. ``snakemake results/single_item/<family>/regretnet/seed0/start.pt --configfile config/quick.yaml``). Prints one
row per variant: training seconds, the deployed iterate, its selection-validation revenue and regret, the held-out
validation revenue (and as a share of the start's) and regret (mean per bidder, p99 of the per-profile sum, max).
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
from pipeline_lib.single_item.evaluation import family_report  # noqa: E402
from pipeline_lib.single_item.learning import regretnet as rn  # noqa: E402
from pipeline_lib.single_item.mechanisms.nets import AsMechanism, model_from_payload  # noqa: E402
from pipeline_lib.stages.single_item_learned import regretnet_config  # noqa: E402

VARIANTS = {  # name -> RegretNetConfig fields changed from the tier's training block ("start": False = fresh net)
    "default": {},
    "strong": {"grid_misreports": 64, "inner_steps": 10, "inner_lr": 0.01},
    "wide": {"grid_misreports": 64},
    "fine": {"inner_steps": 10, "inner_lr": 0.01},
    "budget-1e-3": {"regret_budget": 1e-3},
    "budget-3e-4": {"regret_budget": 3e-4},
    "budget-1e-4": {"regret_budget": 1e-4},
    "last": {"select": "last"},
    "long": {"iterations_factor": 3},
    "no-start": {"start": False},
    "no-start-long": {"start": False, "iterations_factor": 4},
}


def main() -> None:
    ap = parser(__doc__, sorted(VARIANTS), ["default", "strong"])
    ap.add_argument("--iterations", type=int, default=None, help="override the tier's training iterations")
    args = ap.parse_args()
    si, family_cfg, (train, val) = family_inputs(args, ("train", "val"))
    evaluation = si.get("evaluation", {})
    base = regretnet_config(si.get("regretnet", {}).get("training", {}), family_cfg, train)
    if args.iterations:
        base = replace(base, iterations=args.iterations)
    held_out = val[base.val_profiles :][: evaluation.get("max_profiles") or len(val)]
    if len(held_out) == 0:
        raise SystemExit(f"no validation profiles beyond the {base.val_profiles} that selection reads")
    path = Path(args.root) / "single_item" / args.family / "regretnet" / f"seed{args.seed}" / "start.pt"
    start, _ = model_from_payload(io.load_torch(str(path)))
    start_rep = family_report.report(
        AsMechanism(start), held_out, args.family, family_cfg, evaluation, torch.device("cpu")
    )
    start_revenue = start_rep["metrics"]["revenue"]["value"]

    header = f"{'variant':14} {'train s':>8} {'iter':>5} {'sel rev':>8} {'sel rgt':>9} {'val rev':>8} " \
             f"{'vs start':>8} {'rgt mean':>9} {'rgt p99':>8} {'rgt max':>8}"  # fmt: skip
    rows = []
    for name in args.variants:
        fields = dict(VARIANTS[name])
        use_start = fields.pop("start", True)
        cfg = replace(base, iterations=base.iterations * int(fields.pop("iterations_factor", 1)), **fields)
        t0 = time.perf_counter()
        net, history = rn.train_regretnet(train, val, cfg, seed=args.seed, init_net=start if use_start else None)
        seconds = time.perf_counter() - t0
        chosen = rn.selected_row(history)
        rep = family_report.report(AsMechanism(net), held_out, args.family, family_cfg, evaluation, torch.device("cpu"))
        m = rep["metrics"]
        rows.append(
            f"{name:14} {seconds:8.0f} {chosen['iteration']:5d} {chosen['val_revenue']:8.4f} "
            f"{chosen['val_regret']:9.2e} {m['revenue']['value']:8.4f} {m['revenue']['value'] / start_revenue:8.2%} "
            f"{m['regret_mean']['value']:9.2e} {m['regret_p99']['value']:8.4f} {m['regret_max']['value']:8.4f}"
        )
        print(rows[-1], flush=True)
    caption = (
        f"{args.family}, {args.configfile}, {base.iterations} iterations, seed {args.seed}, 1 thread; "
        f"{len(held_out)} held-out validation profiles; start: revenue {start_revenue:.4f}, "
        f"regret {start_rep['metrics']['regret_mean']['value']:.2e}"
    )
    print_table(caption, header, rows)


if __name__ == "__main__":
    main()
