"""Rule table1 (thin adapter over pipeline_lib.stages.report)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.report import TableFiles, table1_stage

start_stage(snakemake.log[0])
table1_stage(list(snakemake.input), TableFiles(**dict(snakemake.output.items())), **dict(snakemake.params.items()))
