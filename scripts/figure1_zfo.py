"""Stage: Fig. 1, revenue during training (thin adapter over pipeline_lib.report.figures_zfo)."""

import logging

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.report.figures_zfo import make_figure1

start_stage(snakemake.log[0])

make_figure1(
    snakemake.input.histories,
    snakemake.params.runs,
    snakemake.params.settings,
    snakemake.output.png,
    snakemake.output.pdf,
)
logging.info("wrote %s", snakemake.output.png)
