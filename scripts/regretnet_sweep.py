"""Rule regretnet_sweep (thin adapter over pipeline_lib.stages.single_item_learned); the Optuna study sits beside
best_params.json (not a declared output), so a killed sweep resumes."""

import optuna

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.single_item_learned import RegretNetSweepFiles, regretnet_sweep

start_stage(snakemake.log[0], snakemake.threads, mode="a")
optuna.logging.enable_propagation()
optuna.logging.disable_default_handler()
regretnet_sweep(
    RegretNetSweepFiles(**dict(snakemake.input.items()), **dict(snakemake.output.items())),
    family=snakemake.wildcards.family,
    **dict(snakemake.params.items()),
)
