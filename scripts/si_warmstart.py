"""Stage: phase-1 warm start of one single-item family (thin adapter over pipeline_lib.single_item.train)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.single_item.train import warm_start

start_stage(snakemake.log[0], snakemake.threads)

p = snakemake.params
warm_start(
    train_path=snakemake.input.train,
    out_path=snakemake.output[0],
    family=snakemake.wildcards.family,
    family_cfg=p.family,
    train_cfg=p.training,
    base_seed=p.base_seed,
)
