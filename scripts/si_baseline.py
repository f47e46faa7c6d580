"""Stage: fit (on train) and evaluate (on test) one single-item baseline with the shared evaluator (thin adapter
over pipeline_lib.single_item.regret)."""

import logging

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.single_item.regret import evaluate_baseline

start_stage(snakemake.log[0], snakemake.threads)

p = snakemake.params
out = evaluate_baseline(
    train_path=snakemake.input.train,
    test_path=snakemake.input.test,
    out_path=snakemake.output[0],
    family=snakemake.wildcards.family,
    family_cfg=p.family,
    baseline=snakemake.wildcards.baseline,
    eval_cfg=p.evaluation,
    fitted_path=snakemake.input.get("fitted"),
)
logging.info("revenue %.5f regret_max %.3g", out["metrics"]["revenue"]["value"], out["metrics"]["regret_max"]["value"])
