"""Stage: evaluate one combinatorial baseline (VCG or Item-Myerson) on a test set (thin adapter)."""

import logging

from pipeline_lib.device import get_device
from pipeline_lib.evaluation_combinatorial import run_baseline

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
run_baseline(
    snakemake.input.test,
    snakemake.output[0],
    snakemake.wildcards.baseline,
    setting=snakemake.wildcards.setting,
    device=get_device(),
    threads=snakemake.threads,
)
