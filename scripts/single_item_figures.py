"""Rule single_item_figures (thin adapter over pipeline_lib.stages.report)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.report import single_item_figures

start_stage(snakemake.log[0], snakemake.threads)
single_item_figures(list(snakemake.input), outputs=dict(snakemake.output.items()), **dict(snakemake.params.items()))
