# Combinatorial study (docs/methods.md#combinatorial-study): one training run per (setting, method, seed) of the VVCA
# optimizers (ZFO-VVCA, FO-VVCA, BBBVVCA) and of the randomized affine maximizers (Lottery AMA, AMenuNet), and the
# deterministic baselines (VCG, Item-Myerson) on the test set; the deterministic AMA over every allocation
# (zfo_ama, zfo_ama_sym: rule ama_run, only where (n+1)^m <= combinatorial.ama.max_outcomes). Methods and the
# settings they apply to come from the registry (pipeline_lib.core.methods). Checkpoints sit under results/_ckpt
# (not declared outputs).


rule zfo_run:
    input:
        unpack(zfo_run_inputs),
    output:
        params=combi_run_path("{setting}", "{method}", "{seed}", "params.pt"),
        history=combi_run_path("{setting}", "{method}", "{seed}", "history.parquet"),
        metrics=combi_run_path("{setting}", "{method}", "{seed}", "metrics.json"),
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
        data_check=data_check("combinatorial"),
        run=zfo_run_params,
    script:
        "../../scripts/zfo_run.py"


rule ama_run:
    input:
        unpack(ama_run_inputs),
    output:
        params=combi_run_path("{setting}", "{method}", "{seed}", "params.pt"),
        history=combi_run_path("{setting}", "{method}", "{seed}", "history.parquet"),
        metrics=combi_run_path("{setting}", "{method}", "{seed}", "metrics.json"),
    log:
        "logs/ama_run/{setting}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/ama_run/{setting}/{method}/seed{seed}.tsv"
    wildcard_constraints:
        method=alternation(AMA_METHODS),
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        data_check=data_check("combinatorial"),
        run=ama_run_params,
    script:
        "../../scripts/ama_run.py"


rule randomized_run:
    input:
        unpack(split_inputs),
    output:
        params=combi_run_path("{setting}", "{method}", "{seed}", "params.pt"),
        history=combi_run_path("{setting}", "{method}", "{seed}", "history.parquet"),
        metrics=combi_run_path("{setting}", "{method}", "{seed}", "metrics.json"),
    log:
        "logs/randomized_run/{setting}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/randomized_run/{setting}/{method}/seed{seed}.tsv"
    wildcard_constraints:
        method=alternation(RANDOMIZED_METHODS),
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        data_check=data_check("combinatorial"),
        spec=randomized_params,
    script:
        "../../scripts/randomized_run.py"


# combinatorial.seeds_in_one_job: the same runs, every seed of a (setting, method) in one process (the per-seed
# rules above stay for single seeds; these win where both could make a file).
if COMBI["seeds_in_one_job"]:

    ruleorder: zfo_run_seeds > zfo_run
    ruleorder: ama_run_seeds > ama_run
    ruleorder: randomized_run_seeds > randomized_run

    rule zfo_run_seeds:
        input:
            unpack(seeds_inputs(zfo_run_inputs)),
        output:
            **seeds_outputs(),
        log:
            "logs/zfo_run/{setting}/{method}/seeds.log",
        benchmark:
            "benchmarks/zfo_run/{setting}/{method}/seeds.tsv"
        wildcard_constraints:
            method=alternation(ZFO_METHODS),
        conda:
            "../../environment.yml"
        threads: 1
        resources:
            gpu=1,
        params:
            seeds=combinatorial_seeds(),
            per_seed=seeds_params(data_check=data_check("combinatorial"), run=zfo_run_params),
        script:
            "../../scripts/zfo_run.py"

    rule ama_run_seeds:
        input:
            unpack(seeds_inputs(ama_run_inputs)),
        output:
            **seeds_outputs(),
        log:
            "logs/ama_run/{setting}/{method}/seeds.log",
        benchmark:
            "benchmarks/ama_run/{setting}/{method}/seeds.tsv"
        wildcard_constraints:
            method=alternation(AMA_METHODS),
        conda:
            "../../environment.yml"
        threads: 1
        resources:
            gpu=1,
        params:
            seeds=combinatorial_seeds(),
            per_seed=seeds_params(data_check=data_check("combinatorial"), run=ama_run_params),
        script:
            "../../scripts/ama_run.py"

    rule randomized_run_seeds:
        input:
            unpack(seeds_inputs(split_inputs)),
        output:
            **seeds_outputs(),
        log:
            "logs/randomized_run/{setting}/{method}/seeds.log",
        benchmark:
            "benchmarks/randomized_run/{setting}/{method}/seeds.tsv"
        wildcard_constraints:
            method=alternation(RANDOMIZED_METHODS),
        conda:
            "../../environment.yml"
        threads: 1
        resources:
            gpu=1,
        params:
            seeds=combinatorial_seeds(),
            per_seed=seeds_params(data_check=data_check("combinatorial"), spec=randomized_params),
        script:
            "../../scripts/randomized_run.py"


rule combinatorial_baseline:
    input:
        unpack(combinatorial_baseline_inputs),
    output:
        baseline_record("{setting}", "{baseline}"),
    log:
        "logs/combinatorial_baseline/{setting}/{baseline}.log",
    benchmark:
        "benchmarks/combinatorial_baseline/{setting}/{baseline}.tsv"
    wildcard_constraints:
        setting=alternation(COMBI_SETTINGS),
        baseline=alternation(COMBI_BASELINES),
    conda:
        "../../environment.yml"
    threads: 2
    params:
        data_check=data_check("combinatorial"),
    script:
        "../../scripts/combinatorial_baseline.py"
