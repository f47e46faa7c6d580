"""Stage: Optuna sweep of (lambda_regret, lambda_mono) for one family, resumable (thin adapter over
pipeline_lib.single_item.sweep). The study storage lives at params.storage, which is not a declared output."""

import optuna

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.single_item.sweep import single_item_sweep

start_stage(snakemake.log[0], snakemake.threads, mode="a")

optuna.logging.enable_propagation()
optuna.logging.disable_default_handler()
p = snakemake.params
single_item_sweep(
    train_path=snakemake.input.train,
    val_path=snakemake.input.val,
    warm_path=snakemake.input.warm,
    out_best=snakemake.output.best,
    out_csv=snakemake.output.csv,
    out_json=snakemake.output.json,
    storage_path=p.storage,
    family=snakemake.wildcards.family,
    family_cfg=p.family,
    train_cfg=p.training,
    sweep_cfg=p.sweep,
    base_seed=p.base_seed,
)
