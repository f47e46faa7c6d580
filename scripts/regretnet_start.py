"""Rule regretnet_start (thin adapter over pipeline_lib.stages.single_item_learned)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.single_item_learned import regretnet_start

start_stage(snakemake.log[0], snakemake.threads)
regretnet_start(
    snakemake.input.train,
    snakemake.input.val,
    snakemake.output[0],
    family=snakemake.wildcards.family,
    seed_index=int(snakemake.wildcards.seed),
    warm_path=snakemake.input.get("warm"),
    teacher_path=snakemake.input.get("teacher"),
    **dict(snakemake.params.items()),
)
