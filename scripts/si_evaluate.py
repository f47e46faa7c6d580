"""Stage: test-set evaluation of one trained single-item network (thin adapter over pipeline_lib.single_item.regret)."""

import logging

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.single_item.regret import evaluate_learned

start_stage(snakemake.log[0], snakemake.threads)

p = snakemake.params
out = evaluate_learned(
    model_path=snakemake.input.model,
    test_path=snakemake.input.test,
    out_path=snakemake.output[0],
    family=snakemake.wildcards.family,
    family_cfg=p.family,
    eval_cfg=p.evaluation,
    seed_index=int(snakemake.wildcards.seed),
)
metrics = out["metrics"]
logging.info("revenue %.5f regret_mean %.6f", metrics["revenue"]["value"], metrics["regret_mean"]["value"])
