"""Rule figure2_zfo (thin adapter over pipeline_lib.stages.report; trains a tied ZFO-VVCA)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.report import figure2_zfo

start_stage(snakemake.log[0], snakemake.threads)
figure2_zfo(
    snakemake.input.train, snakemake.input.val, dict(snakemake.output.items()), **dict(snakemake.params.items())
)
