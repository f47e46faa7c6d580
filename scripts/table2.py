"""Rule table2 (thin adapter over pipeline_lib.stages.report)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.report import TableFiles, table2_stage

start_stage(snakemake.log[0])
table2_stage(
    list(snakemake.input),
    TableFiles(**dict(snakemake.output.items())),
    table=snakemake.wildcards.table,
    **dict(snakemake.params.items()),
)
