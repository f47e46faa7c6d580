"""Stage: Fig. 2, the 2x2(A) case study (thin adapter over pipeline_lib.report.figures_zfo; trains a tied ZFO)."""

import logging

from pipeline_lib.core.device import get_device
from pipeline_lib.core.runtime import start_stage
from pipeline_lib.report.figures_zfo import make_figure2
from pipeline_lib.vvca.zfo import TrainConfig, run_seed_sequence

start_stage(snakemake.log[0], snakemake.threads)

spec = snakemake.params.spec
make_figure2(
    setting=spec["setting"],
    train_path=snakemake.input.train,
    val_path=snakemake.input.val,
    cfg=TrainConfig(**spec["config"]),
    seed_seq=run_seed_sequence(spec["base_seed"], spec["setting"], spec["seed"]),
    grid_points=spec["grid_points"],
    extent=spec["extent"],
    n_profiles=spec["n_profiles"],
    device=get_device(),
    out_png=snakemake.output.png,
    out_pdf=snakemake.output.pdf,
    out_surface=snakemake.output.surface,
    out_trajectory=snakemake.output.trajectory,
)
logging.info("wrote %s", snakemake.output.png)
