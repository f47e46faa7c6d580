# Randomized affine maximizers (issue 6): Lottery AMA and AMenuNet per additive setting and seed (Table 2 rows).
# The (D) settings are excluded: the paper reports "-" there.


rule randomized_run:
    input:
        train="results/data/{setting}/train.parquet",
        val="results/data/{setting}/val.parquet",
        test="results/data/{setting}/test.parquet",
    output:
        params="results/combinatorial/{setting}/{method}/seed{seed}/params.pt",
        history="results/combinatorial/{setting}/{method}/seed{seed}/history.parquet",
        metrics="results/combinatorial/{setting}/{method}/seed{seed}/metrics.json",
    log:
        "logs/randomized_run/{setting}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/randomized_run/{setting}/{method}/seed{seed}.tsv"
    wildcard_constraints:
        method=alternation(RANDOMIZED_METHODS),
        setting=alternation(randomized_settings()),
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        spec=randomized_params,
    script:
        "../../scripts/randomized_run.py"
