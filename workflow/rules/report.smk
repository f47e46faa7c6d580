# Every table and figure: Table 1 (single item), Table 2(a)/(b) and Figures 1-3 (ZFO-VVCA paper), the
# single-item figures. Records come through input:, layouts (values only) through params:.


rule table1:
    input:
        table1_inputs,
    output:
        csv=report(
            table_path("table1", "csv"),
            caption="../report/table1.rst",
            category="Single-item auctions",
            subcategory="Table 1",
            labels={"table": "table1", "format": "csv"},
        ),
        md=table_path("table1", "md"),
        tex=table_path("table1", "tex"),
    log:
        "logs/table1/table1.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        families=table1_families,
    script:
        "../../scripts/table1.py"


rule single_item_figures:
    input:
        si_figure_inputs,
    output:
        sweep_png=report(
            figure_path("single_item_sweeps", "png"),
            caption="../report/single_item_sweeps.rst",
            category="Single-item auctions",
            subcategory="Figures",
            labels={"figure": "sweeps"},
        ),
        sweep_pdf=figure_path("single_item_sweeps", "pdf"),
        response_png=report(
            figure_path("single_item_response", "png"),
            caption="../report/single_item_response.rst",
            category="Single-item auctions",
            subcategory="Figures",
            labels={"figure": "response"},
        ),
        response_pdf=figure_path("single_item_response", "pdf"),
    log:
        "logs/single_item_figures/figures.log",
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    params:
        roles=si_figure_roles,
        data_check=data_check("single_item"),
        families=si_figure_families,
        budget=SI["regretnet"]["sweep"]["budget"],
    script:
        "../../scripts/single_item_figures.py"


rule table2:
    input:
        table2_inputs,
    output:
        csv=report(
            table_path("{table}", "csv"),
            caption="../report/table2.rst",
            category="Combinatorial auctions",
            subcategory="Table 2",
            labels={"table": "{table}", "format": "csv"},
        ),
        md=table_path("{table}", "md"),
        tex=table_path("{table}", "tex"),
    log:
        "logs/table2/{table}.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        settings=table2_settings,
        skipped=table2_skipped,
        table3=table2_table3,
    script:
        "../../scripts/table2.py"


rule figure1_zfo:
    input:
        fig1_histories,
    output:
        png=report(
            figure_path("fig1_training_curves", "png"),
            caption="../report/fig1.rst",
            category="Combinatorial auctions",
            subcategory="Figures",
            labels={"figure": "Fig. 1"},
        ),
        pdf=figure_path("fig1_training_curves", "pdf"),
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
            figure_path("fig2_case_study", "png"),
            caption="../report/fig2.rst",
            category="Combinatorial auctions",
            subcategory="Figures",
            labels={"figure": "Fig. 2"},
        ),
        pdf=figure_path("fig2_case_study", "pdf"),
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
        data_check=data_check("combinatorial"),
        spec=case_study_spec,
    script:
        "../../scripts/figure2_zfo.py"


rule figure3_zfo:
    input:
        data=smoothing_data,
    output:
        png=report(
            figure_path("fig3_smoothing", "png"),
            caption="../report/fig3.rst",
            category="Combinatorial auctions",
            subcategory="Figures",
            labels={"figure": "Fig. 3"},
        ),
        pdf=figure_path("fig3_smoothing", "pdf"),
        curves="results/figures/data/fig3_curves.parquet",
    log:
        "logs/figure3_zfo/figure3.log",
    conda:
        "../../environment.yml"
    params:
        data_check=data_check("combinatorial"),
        spec=smoothing_spec,
    script:
        "../../scripts/figure3_zfo.py"
