"""Stage: sample one (setting, split) and write it to Parquet (thin adapter over pipeline_lib.core.data)."""

import logging

from pipeline_lib.core.data import write_valuations
from pipeline_lib.core.runtime import start_stage

start_stage(snakemake.log[0])

spec = snakemake.params.spec
meta = write_valuations(
    snakemake.output[0],
    spec["setting"],
    spec["split"],
    base_seed=spec["base_seed"],
    num_rows=spec["num_rows"],
    row_group_size=spec["row_group_size"],
)
logging.info(
    "wrote %s: %d profiles of %s (seed %s)", snakemake.output[0], meta["num_rows"], meta["setting"], meta["seed"]
)
