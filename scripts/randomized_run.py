"""Stage: train and test one randomized affine maximizer (Lottery AMA or AMenuNet) on one setting and seed
(thin adapter over pipeline_lib.combinatorial.menus)."""

from pipeline_lib.combinatorial.menus import run_randomized
from pipeline_lib.core.device import get_device
from pipeline_lib.core.runtime import start_stage

start_stage(snakemake.log[0], snakemake.threads)

spec = snakemake.params.spec
run_randomized(
    **spec,
    train_path=snakemake.input.train,
    val_path=snakemake.input.val,
    test_path=snakemake.input.test,
    out_params=snakemake.output.params,
    out_history=snakemake.output.history,
    out_metrics=snakemake.output.metrics,
    device=get_device(),
)
