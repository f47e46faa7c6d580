"""Rule randomized_run (and randomized_run_seeds: every seed in one process; thin adapter over
pipeline_lib.stages.combinatorial)."""

from pipeline_lib.combinatorial.menus import RandomizedSpec
from pipeline_lib.core.runtime import seed_runs, start_stage
from pipeline_lib.stages.combinatorial import RunFiles, randomized_run

start_stage(snakemake.log[0], snakemake.threads)
named = (dict(x.items()) for x in (snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards))
for run in seed_runs(*named):
    randomized_run(
        RunFiles(**run.inputs, **run.outputs),
        RandomizedSpec(**run.params["spec"]),
        data_check=run.params["data_check"],
    )
