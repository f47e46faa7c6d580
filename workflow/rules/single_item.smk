# Single-item neural mechanisms (issue 5; shared/spec/single_item.md): phase-1 warm start -> Optuna sweep of the
# penalty weights -> final phase-2 training per seed -> test evaluation; baselines with the same evaluator;
# Table 1 and figures. Optuna storage and checkpoints are params (undeclared paths), never outputs.


rule single_item_warmstart:
    input:
        train="results/data/{family}/train.parquet",
    output:
        "results/single_item/{family}/warmstart.pt",
    log:
        "logs/single_item_warmstart/{family}.log",
    benchmark:
        "benchmarks/single_item_warmstart/{family}.tsv"
    wildcard_constraints:
        family=alternation(SINGLE_ITEM_FAMILIES),
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        family=si_family,
        training=si_block("training"),
        base_seed=int(config["seed"]),
    script:
        "../../scripts/si_warmstart.py"


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
    wildcard_constraints:
        family=alternation(SINGLE_ITEM_FAMILIES),
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        family=si_family,
        training=si_block("training"),
        sweep=si_block("sweep"),
        base_seed=int(config["seed"]),
        storage=si_storage,
    script:
        "../../scripts/si_sweep.py"


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
    wildcard_constraints:
        family=alternation(SINGLE_ITEM_FAMILIES),
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        training=si_block("training"),
        base_seed=int(config["seed"]),
        ckpt_dir=si_ckpt_dir,
    script:
        "../../scripts/si_train_final.py"


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
    wildcard_constraints:
        family=alternation(SINGLE_ITEM_FAMILIES),
    conda:
        "../../environment.yml"
    threads: 1
    params:
        family=si_family,
        evaluation=si_block("evaluation"),
    script:
        "../../scripts/si_evaluate.py"


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
    wildcard_constraints:
        family=alternation(SINGLE_ITEM_FAMILIES),
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        zfo=si_block("vvca"),
        seed=config["seed"],
        ckpt_dir=si_vvca_ckpt_dir,
    script:
        "../../scripts/si_vvca.py"


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
        family=alternation(SINGLE_ITEM_FAMILIES),
        baseline=alternation(config["single_item"]["baselines"]),
    conda:
        "../../environment.yml"
    threads: 1
    params:
        family=si_family,
        evaluation=si_block("evaluation"),
    script:
        "../../scripts/si_baseline.py"


rule single_item_table1:
    input:
        si_table1_inputs,
    output:
        csv=report(
            "results/tables/table1.csv",
            caption="../report/table1.rst",
            category="Single-item auctions",
            subcategory="Table 1",
            labels={"table": "table1", "format": "csv"},
        ),
        md="results/tables/table1.md",
        tex="results/tables/table1.tex",
    log:
        "logs/single_item_table1/table1.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        families=si_table1_families,
    script:
        "../../scripts/si_table1.py"


rule single_item_figures:
    input:
        si_figure_inputs,
    output:
        sweep_png=report(
            "results/figures/single_item_sweeps.png",
            caption="../report/single_item_sweeps.rst",
            category="Single-item auctions",
            subcategory="Figures",
            labels={"figure": "sweeps"},
        ),
        sweep_pdf="results/figures/single_item_sweeps.pdf",
        response_png=report(
            "results/figures/single_item_response.png",
            caption="../report/single_item_response.rst",
            category="Single-item auctions",
            subcategory="Figures",
            labels={"figure": "response"},
        ),
        response_pdf="results/figures/single_item_response.pdf",
    log:
        "logs/single_item_figures/figures.log",
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    params:
        trials=si_figure_trials,
        models=si_figure_models,
        tests=si_figure_tests,
        families=si_figure_families,
    script:
        "../../scripts/si_figures.py"
