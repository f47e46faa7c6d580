"""RegretNet's distilled start: quality against time, before/after in one run.

Rule ``regretnet_start`` distils the family's network from its teacher, the MyersonNet of the same seed (learned from
samples, exactly DSIC; :mod:`pipeline_lib.single_item.learning.distilled_start`). This distils a fresh network once per
budget variant, on the same data and seed, and scores each start on the validation split only (never the test split,
never a known optimum): its validation revenue against the teacher's on the same profiles, and its validation regret by
the rule's own search on the training block's ``val_profiles``:

    .venv/bin/python benchmarks/distill_budget.py --family uniform                     # quick tier's data
    .venv/bin/python benchmarks/distill_budget.py --family hetero --variants default 10k 5k small-10k

Needs ``results/data/<family>/{train,val}.parquet`` and ``results/single_item/<family>/myersonnet/seed<k>/model.pt``
of the tier (e.g. ``snakemake results/single_item/hetero/myersonnet/seed0/model.pt --configfile config/quick.yaml``).
Prints one row per variant: distillation seconds (one thread), final loss, validation revenue as a share of the
teacher's on the same profiles, validation regret (mean per bidder, max per profile).
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
from pipeline_lib.single_item.evaluation import evaluator  # noqa: E402
from pipeline_lib.single_item.learning import regretnet as rn  # noqa: E402
from pipeline_lib.single_item.learning.distilled_start import DistillConfig, distill  # noqa: E402
from pipeline_lib.single_item.mechanisms.priors import support_upper  # noqa: E402
from pipeline_lib.stages.single_item_learned import load_learned, regretnet_config  # noqa: E402

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
    model = Path(args.root) / "single_item" / args.family / "myersonnet" / f"seed{args.seed}" / "model.pt"
    teacher = load_learned(io.load_torch(str(model)))
    val = val[: base.val_profiles]
    search = rn.validation_search(base, evaluator.misreport_upper(val, support_upper(family_cfg, val.shape[1])))
    with torch.no_grad():
        teacher_revenue = float(teacher(torch.as_tensor(val, dtype=torch.float64))[1].sum(1).mean())

    header = f"{'variant':10} {'steps':>6} {'seconds':>8} {'loss':>8} {'vs teacher':>10} {'regret':>9} {'max':>7}"
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
        share = vm["revenue"] / teacher_revenue
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
