rule sample_dataset:
    output:
        dataset_path("{setting}", "{split}"),
    log:
        "logs/sample_dataset/{setting}/{split}.log",
    benchmark:
        "benchmarks/sample_dataset/{setting}/{split}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    params:
        spec=dataset_params,
    script:
        "../../scripts/sample_dataset.py"
