# Single-item study (docs/methods.md#single-item-study): phase-1 warm start -> Optuna sweep of the penalty weights ->
# final phase-2 training per seed -> test evaluation; baselines (incl. the one-item VVCA) with the same evaluator.
# The Optuna storage and checkpoints sit beside the outputs they belong to (not declared outputs).


rule single_item_warmstart:
    input:
        train=dataset_path("{family}", "train"),
    output:
        si_path("{family}", "warmstart.pt"),
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
        train=dataset_path("{family}", "train"),
        val=dataset_path("{family}", "val"),
        warm=si_path("{family}", "warmstart.pt"),
    output:
        best=si_sweep_path("{family}", "learned", "best_params.json"),
        csv=si_sweep_path("{family}", "learned", "trials.csv"),
        json=si_sweep_path("{family}", "learned", "trials.json"),
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
        train=dataset_path("{family}", "train"),
        val=dataset_path("{family}", "val"),
        warm=si_path("{family}", "warmstart.pt"),
        best=si_sweep_path("{family}", "learned", "best_params.json"),
    output:
        model=si_run_path("{family}", "learned", "{seed}", "model.pt"),
        history=si_run_path("{family}", "learned", "{seed}", "history.parquet"),
        metrics=si_run_path("{family}", "learned", "{seed}", "metrics.json"),
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
        model=si_run_path("{family}", "learned", "{seed}", "model.pt"),
        test=dataset_path("{family}", "test"),
    output:
        si_run_path("{family}", "learned", "{seed}", "test_metrics.json"),
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
        train=dataset_path("{family}", "train"),
        val=dataset_path("{family}", "val"),
    output:
        params=si_path("{family}", "vvca_zfo/params.pt"),
        history=si_path("{family}", "vvca_zfo/history.parquet"),
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
        baseline_record("{family}", "{baseline}"),
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
        si_run_path("{family}", "regretnet", "{seed}", "start.pt"),
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
        train=dataset_path("{family}", "train"),
        val=dataset_path("{family}", "val"),
        start=si_run_path("{family}", "regretnet", si_method_seeds("regretnet")[0], "start.pt"),
    output:
        best=si_sweep_path("{family}", "regretnet", "best_params.json"),
        csv=si_sweep_path("{family}", "regretnet", "trials.csv"),
        json=si_sweep_path("{family}", "regretnet", "trials.json"),
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
        model=si_run_path("{family}", "{method}", "{seed}", "model.pt"),
        history=si_run_path("{family}", "{method}", "{seed}", "history.parquet"),
        metrics=si_run_path("{family}", "{method}", "{seed}", "metrics.json"),
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
        model=si_run_path("{family}", "{method}", "{seed}", "model.pt"),
        test=dataset_path("{family}", "test"),
    output:
        si_run_path("{family}", "{method}", "{seed}", "test_metrics.json"),
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
