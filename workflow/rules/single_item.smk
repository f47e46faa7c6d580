# Single-item study (docs/methods.md#single-item-study): phase-1 warm start -> Optuna sweep of the penalty weights ->
# final phase-2 training per seed -> test evaluation; baselines (incl. the one-item VVCA) with the same evaluator.
# The Optuna storage and checkpoints sit beside the outputs they belong to (not declared outputs).


rule single_item_warmstart:
    input:
        train="results/data/{family}/train.parquet",
    output:
        "results/single_item/{family}/warmstart.pt",
    log:
        "logs/single_item_warmstart/{family}.log",
    benchmark:
        "benchmarks/single_item_warmstart/{family}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        data_check=data_check("single_item"),
        family_cfg=si_family,
        training=SI["training"],
        base_seed=int(config["seed"]),
    script:
        "../../scripts/single_item_warmstart.py"


rule single_item_sweep:
    input:
        train="results/data/{family}/train.parquet",
        val="results/data/{family}/val.parquet",
        warm="results/single_item/{family}/warmstart.pt",
    output:
        best="results/single_item/{family}/sweep/best_params.json",
        csv="results/single_item/{family}/sweep/trials.csv",
        json="results/single_item/{family}/sweep/trials.json",
    log:
        "logs/single_item_sweep/{family}.log",
    benchmark:
        "benchmarks/single_item_sweep/{family}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        data_check=data_check("single_item"),
        family_cfg=si_family,
        training=SI["training"],
        sweep=SI["sweep"],
        base_seed=int(config["seed"]),
    script:
        "../../scripts/single_item_sweep.py"


rule single_item_train_final:
    input:
        train="results/data/{family}/train.parquet",
        val="results/data/{family}/val.parquet",
        warm="results/single_item/{family}/warmstart.pt",
        best="results/single_item/{family}/sweep/best_params.json",
    output:
        model="results/single_item/{family}/final/seed{seed}/model.pt",
        history="results/single_item/{family}/final/seed{seed}/history.parquet",
        metrics="results/single_item/{family}/final/seed{seed}/metrics.json",
    log:
        "logs/single_item_train_final/{family}/seed{seed}.log",
    benchmark:
        "benchmarks/single_item_train_final/{family}/seed{seed}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        data_check=data_check("single_item"),
        training=SI["training"],
        base_seed=int(config["seed"]),
    script:
        "../../scripts/single_item_train_final.py"


rule single_item_evaluate:
    input:
        model="results/single_item/{family}/final/seed{seed}/model.pt",
        test="results/data/{family}/test.parquet",
    output:
        "results/single_item/{family}/final/seed{seed}/test_metrics.json",
    log:
        "logs/single_item_evaluate/{family}/seed{seed}.log",
    benchmark:
        "benchmarks/single_item_evaluate/{family}/seed{seed}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    params:
        data_check=data_check("single_item"),
        family_cfg=si_family,
        evaluation=SI["evaluation"],
    script:
        "../../scripts/single_item_evaluate.py"


rule single_item_vvca:
    input:
        train="results/data/{family}/train.parquet",
        val="results/data/{family}/val.parquet",
    output:
        params="results/single_item/{family}/vvca_zfo/params.pt",
        history="results/single_item/{family}/vvca_zfo/history.parquet",
    log:
        "logs/single_item_vvca/{family}.log",
    benchmark:
        "benchmarks/single_item_vvca/{family}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        data_check=data_check("single_item"),
        zfo=SI["vvca"],
        base_seed=int(config["seed"]),
    script:
        "../../scripts/single_item_vvca.py"


rule single_item_baseline:
    input:
        unpack(si_baseline_inputs),
    output:
        "results/baselines/{family}/{baseline}.json",
    log:
        "logs/single_item_baseline/{family}/{baseline}.log",
    benchmark:
        "benchmarks/single_item_baseline/{family}/{baseline}.tsv"
    wildcard_constraints:
        baseline=alternation(SI["baselines"]),
    conda:
        "../../environment.yml"
    threads: 1
    params:
        data_check=data_check("single_item"),
        family_cfg=si_family,
        evaluation=SI["evaluation"],
    script:
        "../../scripts/single_item_baseline.py"


rule regretnet_start:
    input:
        unpack(regretnet_start_inputs),
    output:
        regretnet_start_path("{family}", "{seed}"),
    log:
        "logs/regretnet_start/{family}/seed{seed}.log",
    benchmark:
        "benchmarks/regretnet_start/{family}/seed{seed}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        data_check=data_check("single_item"),
        family_cfg=si_family,
        training=SI["regretnet"]["training"],
        start=SI["regretnet"]["start"],
        base_seed=int(config["seed"]),
    script:
        "../../scripts/regretnet_start.py"


rule regretnet_sweep:
    input:
        train="results/data/{family}/train.parquet",
        val="results/data/{family}/val.parquet",
        start=regretnet_start_path("{family}", si_method_seeds("regretnet")[0]),
    output:
        best="results/single_item/{family}/regretnet/sweep/best_params.json",
        csv="results/single_item/{family}/regretnet/sweep/trials.csv",
        json="results/single_item/{family}/regretnet/sweep/trials.json",
    log:
        "logs/regretnet_sweep/{family}.log",
    benchmark:
        "benchmarks/regretnet_sweep/{family}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        data_check=data_check("single_item"),
        family_cfg=si_family,
        training=SI["regretnet"]["training"],
        sweep=SI["regretnet"]["sweep"],
        base_seed=int(config["seed"]),
    script:
        "../../scripts/regretnet_sweep.py"


rule single_item_learned_train:
    input:
        unpack(learned_train_inputs),
    output:
        model="results/single_item/{family}/{method}/seed{seed}/model.pt",
        history="results/single_item/{family}/{method}/seed{seed}/history.parquet",
        metrics="results/single_item/{family}/{method}/seed{seed}/metrics.json",
    log:
        "logs/single_item_learned_train/{family}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/single_item_learned_train/{family}/{method}/seed{seed}.tsv"
    wildcard_constraints:
        method="regretnet|myersonnet",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        data_check=data_check("single_item"),
        family_cfg=si_family,
        training=learned_training,
        base_seed=int(config["seed"]),
    script:
        "../../scripts/single_item_learned_train.py"


rule single_item_learned_evaluate:
    input:
        model="results/single_item/{family}/{method}/seed{seed}/model.pt",
        test="results/data/{family}/test.parquet",
    output:
        "results/single_item/{family}/{method}/seed{seed}/test_metrics.json",
    log:
        "logs/single_item_learned_evaluate/{family}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/single_item_learned_evaluate/{family}/{method}/seed{seed}.tsv"
    wildcard_constraints:
        method="regretnet|myersonnet",
    conda:
        "../../environment.yml"
    threads: 1
    params:
        data_check=data_check("single_item"),
        family_cfg=si_family,
        evaluation=SI["evaluation"],
    script:
        "../../scripts/single_item_learned_evaluate.py"
