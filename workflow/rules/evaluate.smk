rule evaluate:
    input:
        labels="results/{species}/labels",
        gt=member_gt_masks,
        validation="results/{species}/ground_truth_validation.tsv",
    output:
        "results/{species}/evaluation.tsv",
    log:
        "logs/evaluate/{species}.log",
    benchmark:
        "results/benchmarks/evaluate/{species}.tsv"
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("evaluate", "threads", 1)
    resources:
        mem_mb=scaled("evaluate", "mem_mb", 2000),
        runtime=scaled("evaluate", "runtime", 30),
    params:
        sheet=sheet_columns("specimen", "mask", "gt_mask"),
        samples=config["samples"],
        structures=STRUCTURES,
        engine=ENGINE,
    script:
        "../scripts/evaluate.py"
