"""RegretNet's distilled start: quality against time, before/after in one run.

Rule ``regretnet_start`` distils the family's network from its DSIC teacher (:mod:`pipeline_lib.single_item.distill`);
on the quick tier it is the largest single cost of the single-item part (620-660 s per family on 2 cores). This
distils a fresh network once per budget variant, on the same data and seed, and scores each start as the rule does
(its validation search on the training block's ``val_profiles``), with its validation revenue against Myerson's on
the same profiles (paired, :mod:`pipeline_lib.single_item.revenue_ceiling`):

    .venv/bin/python benchmarks/distill_budget.py --family uniform                     # quick tier's data
    .venv/bin/python benchmarks/distill_budget.py --family hetero --variants default 10k 5k small-10k

Needs ``results/data/<family>/{train,val}.parquet`` of the tier (e.g. ``snakemake results/data/hetero/val.parquet
--configfile config/quick.yaml``) and a family whose priors are known (the Myerson teacher). Prints one row per
variant: distillation seconds (one thread), final loss, validation revenue as a share of Myerson's on the same
profiles, validation regret (mean per bidder, max per profile).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _single_item_bench import family_inputs, parser, print_table  # noqa: E402

from pipeline_lib.single_item import regret  # noqa: E402
from pipeline_lib.single_item import regretnet as rn  # noqa: E402
from pipeline_lib.single_item.asymmetric_myerson import myerson_for_family  # noqa: E402
from pipeline_lib.single_item.baselines import support_upper  # noqa: E402
from pipeline_lib.single_item.distill import DistillConfig, distill  # noqa: E402
from pipeline_lib.single_item.nets import AsMechanism  # noqa: E402
from pipeline_lib.single_item.revenue_ceiling import RevenueCeiling  # noqa: E402
from pipeline_lib.stages.single_item_learned import regretnet_config  # noqa: E402

VARIANTS = {  # name -> (DistillConfig fields, RegretNetConfig fields) changed from the tier's blocks
    "default": ({}, {}),
    "20k": ({"iterations": 20000}, {}),
    "10k": ({"iterations": 10000}, {}),
    "5k": ({"iterations": 5000}, {}),
    "b256": ({"batch_size": 256}, {}),
    "20k-b256": ({"iterations": 20000, "batch_size": 256}, {}),
    "small-10k": ({"iterations": 10000}, {"hidden": (64, 64, 32), "price_hidden": (32, 32)}),
    "small-20k": ({"iterations": 20000}, {"hidden": (64, 64, 32), "price_hidden": (32, 32)}),
}


def main() -> None:
    args = parser(__doc__, VARIANTS, ["default", "10k"]).parse_args()
    si, family_cfg, (train, val) = family_inputs(args, ("train", "val"))
    block = si.get("regretnet", {})
    base = regretnet_config(block.get("training", {}), family_cfg, train)
    teacher = myerson_for_family(family_cfg, train.shape[1])
    val = val[: base.val_profiles]
    search = rn.validation_search(base, regret.misreport_upper(val, support_upper(family_cfg, val.shape[1])))
    ceiling = RevenueCeiling.of(teacher, val)

    header = f"{'variant':10} {'steps':>6} {'seconds':>8} {'loss':>8} {'vs Myerson':>10} {'regret':>9} {'max':>7}"
    rows = []
    for name in args.variants:
        dfields, nfields = VARIANTS[name]
        dcfg = replace(DistillConfig.from_mapping(block.get("start", {})), **dfields)
        cfg = replace(base, **nfields)
        torch.manual_seed(args.seed)
        net = rn.fresh_net(train, cfg)
        t0 = time.perf_counter()
        net, history = distill(net.float(), train, teacher, dcfg, float(cfg.misreport_upper), args.seed)
        seconds = time.perf_counter() - t0
        vm = rn.validation_metrics(net, val, search)
        excess, _ = ceiling.excess(AsMechanism(net))
        share = 1.0 + excess / ceiling.revenue
        rows.append(
            f"{name:10} {dcfg.iterations:6d} {seconds:8.0f} {history[-1]['loss']:8.5f} {share:10.2%} "
            f"{vm['regret_mean']:9.2e} {vm['regret_max']:7.4f}"
        )
        print(rows[-1], flush=True)
    print_table(
        f"{args.family}, {args.configfile}, {len(val)} validation profiles, seed {args.seed}, 1 thread", header, rows
    )


if __name__ == "__main__":
    main()
