"""Stage: phase-1 warm start of one single-item family (thin adapter over pipeline_lib.training.single_item)."""

import logging
import sys

import torch

from pipeline_lib.training.single_item import warm_start

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
torch.set_num_threads(snakemake.threads)
p = snakemake.params
warm_start(
    train_path=snakemake.input.train,
    out_path=snakemake.output[0],
    family=snakemake.wildcards.family,
    family_cfg=p.family,
    train_cfg=p.training,
    base_seed=p.base_seed,
)
