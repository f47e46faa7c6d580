"""Rule zfo_run (and zfo_run_seeds: every seed in one process; thin adapter over pipeline_lib.stages.combinatorial)."""

from pipeline_lib.core.runtime import seed_runs, start_stage
from pipeline_lib.stages.combinatorial import RunFiles, zfo_run

start_stage(snakemake.log[0], snakemake.threads)
named = (dict(x.items()) for x in (snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards))
for run in seed_runs(*named):
    zfo_run(
        RunFiles(**run.inputs, **run.outputs),
        setting=snakemake.wildcards.setting,
        method=snakemake.wildcards.method,
        seed_index=run.seed,
        **run.params["run"],
        data_check=run.params["data_check"],
    )
