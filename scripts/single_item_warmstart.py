"""Rule single_item_warmstart (thin adapter over pipeline_lib.stages.single_item)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.single_item import single_item_warmstart

start_stage(snakemake.log[0], snakemake.threads)
single_item_warmstart(
    snakemake.input.train, snakemake.output[0], family=snakemake.wildcards.family, **dict(snakemake.params.items())
)
