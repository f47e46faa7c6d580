# Deterministic combinatorial baselines (issue 3): VCG (every setting) and exact Item-Myerson (additive settings),
# evaluated on the fixed test set with the exact VVCA dynamic program (spec Part B section 8).


rule combinatorial_baseline:
    input:
        test="results/data/{setting}/test.parquet",
    output:
        "results/baselines/{setting}/{baseline}.json",
    log:
        "logs/combinatorial_baseline/{setting}/{baseline}.log",
    benchmark:
        "benchmarks/combinatorial_baseline/{setting}/{baseline}.tsv"
    wildcard_constraints:
        setting=alternation(COMBI_SETTINGS),
        baseline="vcg|item_myerson",
    conda:
        "../../environment.yml"
    threads: 2
    script:
        "../../scripts/combinatorial_baseline.py"
