"""Rule figure3_zfo (thin adapter over pipeline_lib.stages.report)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.report import figure3_zfo

start_stage(snakemake.log[0], snakemake.threads)
figure3_zfo(snakemake.input.data, dict(snakemake.output.items()), **dict(snakemake.params.items()))
