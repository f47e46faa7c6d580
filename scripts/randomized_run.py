"""Stage: train and test one randomized affine maximizer (Lottery AMA or AMenuNet) on one setting and seed
(thin adapter over pipeline_lib.training.randomized)."""

from pipeline_lib.device import get_device
from pipeline_lib.stage import start_stage
from pipeline_lib.training.randomized import run_randomized

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
