"""Stage: fit (on train) and evaluate (on test) one single-item baseline with the shared evaluator (thin adapter
over pipeline_lib.evaluation)."""

import logging
import sys

import torch

from pipeline_lib.evaluation import evaluate_baseline

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
torch.set_num_threads(snakemake.threads)
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
