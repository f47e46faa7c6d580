"""Stage: train one ZFO-VVCA / FO-VVCA / BBBVVCA run and evaluate it (thin adapter over pipeline_lib.vvca.zfo)."""

from pipeline_lib.core.device import describe_device, get_device
from pipeline_lib.core.runtime import start_stage
from pipeline_lib.vvca.zfo import TrainConfig, run_training

start_stage(snakemake.log[0], snakemake.threads)

run = snakemake.params.run
device = get_device()
run_training(
    setting=snakemake.wildcards.setting,
    n=run["n"],
    m=run["m"],
    method=snakemake.wildcards.method,
    seed_index=int(snakemake.wildcards.seed),
    base_seed=run["base_seed"],
    cfg=TrainConfig(**run["config"]),
    train_path=snakemake.input.train,
    val_path=snakemake.input.val,
    test_path=snakemake.input.test,
    out_params=snakemake.output.params,
    out_history=snakemake.output.history,
    out_metrics=snakemake.output.metrics,
    ckpt_dir=snakemake.params.ckpt_dir,
    device=device,
    device_name=describe_device(device),
)
