rule evaluate:
    input:
        labels="results/{species}/labels",
        gt=member_gt_masks,
    output:
        "results/{species}/evaluation.tsv",
    log:
        "logs/evaluate/{species}.log",
    threads: 1
    resources:
        mem_mb=scaled("evaluate", "mem_mb", 2000),
        runtime=scaled("evaluate", "runtime", 30),
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/evaluate.py"
