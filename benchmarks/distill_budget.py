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

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from pipeline_lib.core.configfiles import deep_merge, load_strict
from pipeline_lib.core.data import read_valuations
from pipeline_lib.single_item import regret
from pipeline_lib.single_item import regretnet as rn
from pipeline_lib.single_item.asymmetric_myerson import myerson_for_family
from pipeline_lib.single_item.baselines import support_upper
from pipeline_lib.single_item.distill import DistillConfig, distill
from pipeline_lib.single_item.nets import AsMechanism
from pipeline_lib.single_item.revenue_ceiling import RevenueCeiling
from pipeline_lib.stages.single_item_learned import regretnet_config

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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", required=True)
    ap.add_argument("--configfile", default="config/quick.yaml", help="overlay over config/config.yaml")
    ap.add_argument("--variants", nargs="+", default=["default", "10k"], choices=list(VARIANTS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--root", default="results")
    args = ap.parse_args()
    torch.set_num_threads(1)

    config = deep_merge(load_strict("config/config.yaml"), load_strict(args.configfile) if args.configfile else {})
    si = config["single_item"]
    family_cfg = si["families"][args.family]
    data = Path(args.root) / "data" / args.family
    train, val = (read_valuations(data / f"{s}.parquet").values for s in ("train", "val"))
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
    print(f"\n{args.family}, {args.configfile}, {len(val)} validation profiles, seed {args.seed}, 1 thread")
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
