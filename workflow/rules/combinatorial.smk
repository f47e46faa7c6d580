# ZFO-VVCA, FO-VVCA and BBBVVCA (issue 4): one training run per (setting, method, seed), Algorithm 3 and variants.
# Checkpoints go to results/_ckpt/... (a param, not an output): a killed run resumes from its last one.


rule zfo_run:
    input:
        train="results/data/{setting}/train.parquet",
        val="results/data/{setting}/val.parquet",
        test="results/data/{setting}/test.parquet",
    output:
        params="results/combinatorial/{setting}/{method}/seed{seed}/params.pt",
        history="results/combinatorial/{setting}/{method}/seed{seed}/history.parquet",
        metrics="results/combinatorial/{setting}/{method}/seed{seed}/metrics.json",
    log:
        "logs/zfo_run/{setting}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/zfo_run/{setting}/{method}/seed{seed}.tsv"
    wildcard_constraints:
        method=alternation(ZFO_METHODS),
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        run=zfo_run_params,
        ckpt_dir=zfo_ckpt_dir,
    script:
        "../../scripts/zfo_run.py"
