"""Rule randomized_run (thin adapter over pipeline_lib.stages.combinatorial)."""

from pipeline_lib.combinatorial.menus import RandomizedSpec
from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.combinatorial import RunFiles, randomized_run

start_stage(snakemake.log[0], snakemake.threads)
randomized_run(
    RunFiles(**dict(snakemake.input.items()), **dict(snakemake.output.items())),
    RandomizedSpec(**snakemake.params.spec),
    data_check=snakemake.params.data_check,
)
