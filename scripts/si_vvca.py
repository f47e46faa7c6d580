"""Stage: train the one-item VVCA baseline of a family by ZFO-VVCA (thin adapter over
pipeline_lib.training.single_item_vvca)."""

import logging
import sys

from pipeline_lib.device import describe_device, get_device
from pipeline_lib.training.single_item_vvca import train_one_item_vvca
from pipeline_lib.training.zfo import set_cpu_threads

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
set_cpu_threads(snakemake.threads)
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
