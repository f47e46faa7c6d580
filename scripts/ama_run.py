"""Rule ama_run (thin adapter over pipeline_lib.stages.ama)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.ama import AmaFiles, ama_run

start_stage(snakemake.log[0], snakemake.threads)
ama_run(
    AmaFiles(**dict(snakemake.input.items()), **dict(snakemake.output.items())),
    setting=snakemake.wildcards.setting,
    method=snakemake.wildcards.method,
    seed_index=int(snakemake.wildcards.seed),
    **snakemake.params.run,
    data_check=snakemake.params.data_check,
)
