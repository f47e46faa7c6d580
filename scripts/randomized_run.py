"""Stage: train and test one randomized affine maximizer (Lottery AMA or AMenuNet) on one setting and seed
(thin adapter over pipeline_lib.training.randomized)."""

import logging

import torch

from pipeline_lib.device import get_device
from pipeline_lib.training.randomized import run_randomized

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
torch.set_num_threads(snakemake.threads)
spec = snakemake.params.spec
run_randomized(
    **spec,
    train_path=snakemake.input.train,
    val_path=snakemake.input.val,
    test_path=snakemake.input.test,
    out_params=snakemake.output.params,
    out_history=snakemake.output.history,
    out_metrics=snakemake.output.metrics,
    device=get_device(),
)
