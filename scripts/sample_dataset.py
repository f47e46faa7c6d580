"""Rule sample_dataset (thin adapter over pipeline_lib.stages.data)."""

from pipeline_lib.core.runtime import start_stage
from pipeline_lib.stages.data import sample_dataset

start_stage(snakemake.log[0])
sample_dataset(snakemake.output[0], **snakemake.params.spec)
