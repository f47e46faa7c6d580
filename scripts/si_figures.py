"""Stage: single-item figures (sweep trials; one bidder's allocation and payment) (thin adapter over
pipeline_lib.report.figures_single_item)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.report.figures_single_item import single_item_figures

start_stage(snakemake.log[0], snakemake.threads)

p = snakemake.params
single_item_figures(
    trials_json=p.trials,
    models=p.models,
    tests=p.tests,
    family_cfgs=p.families,
    out_sweep=[snakemake.output.sweep_png, snakemake.output.sweep_pdf],
    out_response=[snakemake.output.response_png, snakemake.output.response_pdf],
)
