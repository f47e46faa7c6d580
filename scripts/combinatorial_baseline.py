"""Rule combinatorial_baseline (thin adapter over pipeline_lib.stages.combinatorial)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.combinatorial import combinatorial_baseline

start_stage(snakemake.log[0], snakemake.threads)
combinatorial_baseline(
    snakemake.input.test,
    snakemake.output[0],
    baseline=snakemake.wildcards.baseline,
    setting=snakemake.wildcards.setting,
    train_path=snakemake.input.get("train"),
    data_check=snakemake.params.data_check,
)
