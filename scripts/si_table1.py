"""Stage: Table 1 (CSV, Markdown, LaTeX) from the single-item evaluation files (thin adapter over
pipeline_lib.report.table1)."""

import logging

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.report.table1 import write_table1

start_stage(snakemake.log[0])

table = write_table1(snakemake.params.families, snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
logging.info("wrote %d rows", len(table))
