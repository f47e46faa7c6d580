"""Stage: train the one-item VVCA baseline of a family by ZFO-VVCA (thin adapter over
pipeline_lib.single_item.one_item_vvca)."""

import logging

from pipeline_lib.core.device import describe_device, get_device
from pipeline_lib.core.runtime import start_stage
from pipeline_lib.single_item.one_item_vvca import train_one_item_vvca

start_stage(snakemake.log[0], snakemake.threads)

device = get_device()
logging.info("device: %s", describe_device(device))
out = train_one_item_vvca(
    family=snakemake.wildcards.family,
    train_path=snakemake.input.train,
    val_path=snakemake.input.val,
    out_params=snakemake.output.params,
    out_history=snakemake.output.history,
    zfo_cfg=dict(snakemake.params.zfo),
    base_seed=int(snakemake.params.seed),
    ckpt_dir=snakemake.params.ckpt_dir,
    device=device,
)
logging.info("validation revenue %.5f", out["val_revenue"])
