"""Rule single_item_train_final (thin adapter over pipeline_lib.stages.single_item)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.single_item import FinalFiles, single_item_train_final

start_stage(snakemake.log[0], snakemake.threads)
single_item_train_final(
    FinalFiles(**dict(snakemake.input.items()), **dict(snakemake.output.items())),
    family=snakemake.wildcards.family,
    seed_index=int(snakemake.wildcards.seed),
    **dict(snakemake.params.items()),
)
