rule evaluate:
    input:
        labels="results/{species}/labels",
        gt=member_gt_masks,
    output:
        "results/{species}/evaluation.tsv",
    log:
        "logs/evaluate/{species}.log",
    conda:
        "../../envs/traitrack.yaml"
    threads: 1
    resources:
        mem_mb=scaled("evaluate", "mem_mb", 2000),
        runtime=scaled("evaluate", "runtime", 30),
    script:
        "../scripts/evaluate.py"
