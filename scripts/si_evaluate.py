"""Stage: test-set evaluation of one trained single-item network (thin adapter over pipeline_lib.evaluation)."""

import logging
import sys

import torch

from pipeline_lib.evaluation import evaluate_learned

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
torch.set_num_threads(snakemake.threads)
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
