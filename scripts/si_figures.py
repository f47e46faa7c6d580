"""Stage: single-item figures (sweep trials; one bidder's allocation and payment) (thin adapter over
pipeline_lib.report.figures_single_item)."""

import logging
import sys

import torch

from pipeline_lib.report.figures_single_item import single_item_figures

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)
p = snakemake.params
single_item_figures(
    trials_json=p.trials,
    models=p.models,
    tests=p.tests,
    family_cfgs=p.families,
    out_sweep=[snakemake.output.sweep_png, snakemake.output.sweep_pdf],
    out_response=[snakemake.output.response_png, snakemake.output.response_pdf],
)
