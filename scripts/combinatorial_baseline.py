"""Stage: evaluate one combinatorial baseline (VCG or Item-Myerson) on a test set (thin adapter)."""

from pipeline_lib.device import get_device
from pipeline_lib.evaluation_combinatorial import run_baseline
from pipeline_lib.stage import start_stage

start_stage(snakemake.log[0])

run_baseline(
    snakemake.input.test,
    snakemake.output[0],
    snakemake.wildcards.baseline,
    setting=snakemake.wildcards.setting,
    device=get_device(),
    threads=snakemake.threads,
)
