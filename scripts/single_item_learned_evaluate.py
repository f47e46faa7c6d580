"""Rule single_item_learned_evaluate (thin adapter over pipeline_lib.stages.single_item_learned)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.single_item_learned import single_item_learned_evaluate

start_stage(snakemake.log[0], snakemake.threads)
single_item_learned_evaluate(
    snakemake.input.model,
    snakemake.input.test,
    snakemake.output[0],
    family=snakemake.wildcards.family,
    method=snakemake.wildcards.method,
    seed_index=int(snakemake.wildcards.seed),
    **dict(snakemake.params.items()),
)
