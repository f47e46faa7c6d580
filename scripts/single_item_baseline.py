"""Rule single_item_baseline (thin adapter over pipeline_lib.stages.single_item)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.single_item import single_item_baseline

start_stage(snakemake.log[0], snakemake.threads)
single_item_baseline(
    snakemake.input.train,
    snakemake.input.test,
    snakemake.output[0],
    family=snakemake.wildcards.family,
    baseline=snakemake.wildcards.baseline,
    fitted_path=snakemake.input.get("fitted"),
    **dict(snakemake.params.items()),
)
