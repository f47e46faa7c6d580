"""Rule single_item_learned_train (thin adapter over pipeline_lib.stages.single_item_learned)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.single_item_learned import single_item_learned_train

start_stage(snakemake.log[0], snakemake.threads)
single_item_learned_train(
    snakemake.input.train,
    snakemake.input.val,
    dict(snakemake.output.items()),
    family=snakemake.wildcards.family,
    method=snakemake.wildcards.method,
    seed_index=int(snakemake.wildcards.seed),
    best_path=snakemake.input.get("best"),
    start_path=snakemake.input.get("start"),
    **dict(snakemake.params.items()),
)
