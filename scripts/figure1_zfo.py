"""Rule figure1_zfo (thin adapter over pipeline_lib.stages.report)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.report import figure1_zfo

start_stage(snakemake.log[0])
figure1_zfo(list(snakemake.input), snakemake.output.png, snakemake.output.pdf, **dict(snakemake.params.items()))
