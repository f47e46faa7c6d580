"""Stage: Fig. 3, Rev2 and its Gaussian smoothing along one boost (adapter over pipeline_lib.report.figures_zfo)."""

import logging

from pipeline_lib.core.device import get_device
from pipeline_lib.core.runtime import start_stage
from pipeline_lib.report.figures_zfo import make_figure3

start_stage(snakemake.log[0], snakemake.threads)

spec = snakemake.params.spec
make_figure3(
    setting=spec["setting"],
    data_path=snakemake.input.data,
    split="val",
    bidder=spec["bidder"],
    bundle=spec["bundle"],
    low=spec["low"],
    high=spec["high"],
    points=spec["points"],
    sigmas=spec["sigmas"],
    n_profiles=spec["n_profiles"],
    device=get_device(),
    out_png=snakemake.output.png,
    out_pdf=snakemake.output.pdf,
    out_curves=snakemake.output.curves,
)
logging.info("wrote %s", snakemake.output.png)
