# Table 2(a)/(b) and Figures 1-3 of the ZFO-VVCA paper (issue 4). Table 1 has its own rules in single_item.smk.


rule table2:
    input:
        unpack(table2_inputs),
    output:
        csv=report(
            "results/tables/{table}.csv",
            caption="../report/table2.rst",
            category="Combinatorial auctions",
            subcategory="Table 2",
            labels={"table": "{table}", "format": "csv"},
        ),
        md="results/tables/{table}.md",
        tex="results/tables/{table}.tex",
    log:
        "logs/table2/{table}.log",
    wildcard_constraints:
        table="table2a|table2b",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        settings=table2_settings,
    script:
        "../../scripts/table2.py"


rule figure1_zfo:
    input:
        histories=fig1_histories,
    output:
        png=report(
            "results/figures/fig1_training_curves.png",
            caption="../report/fig1.rst",
            category="Combinatorial auctions",
            subcategory="Figures",
            labels={"figure": "Fig. 1"},
        ),
        pdf="results/figures/fig1_training_curves.pdf",
    log:
        "logs/figure1_zfo/figure1.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        runs=fig1_keys,
        settings=fig1_settings(),
    script:
        "../../scripts/figure1_zfo.py"


rule figure2_zfo:
    input:
        unpack(case_study_data),
    output:
        png=report(
            "results/figures/fig2_case_study.png",
            caption="../report/fig2.rst",
            category="Combinatorial auctions",
            subcategory="Figures",
            labels={"figure": "Fig. 2"},
        ),
        pdf="results/figures/fig2_case_study.pdf",
        surface="results/figures/data/fig2_surface.parquet",
        trajectory="results/figures/data/fig2_trajectory.parquet",
    log:
        "logs/figure2_zfo/figure2.log",
    benchmark:
        "benchmarks/figure2_zfo/figure2.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
    params:
        spec=case_study_spec,
    script:
        "../../scripts/figure2_zfo.py"


rule figure3_zfo:
    input:
        data=smoothing_data,
    output:
        png=report(
            "results/figures/fig3_smoothing.png",
            caption="../report/fig3.rst",
            category="Combinatorial auctions",
            subcategory="Figures",
            labels={"figure": "Fig. 3"},
        ),
        pdf="results/figures/fig3_smoothing.pdf",
        curves="results/figures/data/fig3_curves.parquet",
    log:
        "logs/figure3_zfo/figure3.log",
    conda:
        "../../environment.yml"
    params:
        spec=smoothing_spec,
    script:
        "../../scripts/figure3_zfo.py"
