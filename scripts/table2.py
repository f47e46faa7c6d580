"""Stage: Table 2(a) or 2(b) from run metrics and baseline files (thin adapter over pipeline_lib.report.table2)."""

import logging

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.report.table2 import write_table2

start_stage(snakemake.log[0])

long = write_table2(
    snakemake.wildcards.table,
    snakemake.params.settings,
    snakemake.input.runs,
    snakemake.input.baselines,
    snakemake.output.csv,
    snakemake.output.md,
    snakemake.output.tex,
)
logging.info("wrote %s: %d (method, setting) rows\n%s", snakemake.wildcards.table, len(long), long.to_string())
