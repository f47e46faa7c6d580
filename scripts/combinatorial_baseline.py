"""Stage: evaluate one combinatorial baseline (VCG or Item-Myerson) on a test set (thin adapter)."""

from pipeline_lib.core.device import get_device
from pipeline_lib.core.runtime import start_stage
from pipeline_lib.vvca.evaluate import run_baseline

start_stage(snakemake.log[0])

run_baseline(
    snakemake.input.test,
    snakemake.output[0],
    snakemake.wildcards.baseline,
    setting=snakemake.wildcards.setting,
    device=get_device(),
    threads=snakemake.threads,
)
