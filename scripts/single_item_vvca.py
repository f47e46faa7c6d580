"""Rule single_item_vvca (thin adapter over pipeline_lib.stages.single_item)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.single_item import single_item_vvca

start_stage(snakemake.log[0], snakemake.threads)
single_item_vvca(
    snakemake.input.train,
    snakemake.input.val,
    snakemake.output.params,
    snakemake.output.history,
    family=snakemake.wildcards.family,
    **dict(snakemake.params.items()),
)
