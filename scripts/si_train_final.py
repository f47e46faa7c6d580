"""Stage: final phase-2 training of one family and seed with the sweep's best weights (thin adapter over
pipeline_lib.single_item.train). Per-epoch checkpoints go to params.ckpt_dir (not a declared output)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.single_item.train import train_final

start_stage(snakemake.log[0], snakemake.threads)

p = snakemake.params
train_final(
    train_path=snakemake.input.train,
    val_path=snakemake.input.val,
    warm_path=snakemake.input.warm,
    best_params_path=snakemake.input.best,
    out_model=snakemake.output.model,
    out_history=snakemake.output.history,
    out_metrics=snakemake.output.metrics,
    family=snakemake.wildcards.family,
    seed_index=int(snakemake.wildcards.seed),
    train_cfg=p.training,
    base_seed=p.base_seed,
    ckpt_dir=p.ckpt_dir,
)
