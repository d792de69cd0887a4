rule evaluate:
    input:
        labels=SPECIES_FILES.gathered().labels,
        gt=member_gt_masks,
        validation=SPECIES_FILES.ground_truth_validation,
    output:
        SPECIES_FILES.gathered().evaluation,
    log:
        log_path("evaluate", "{species}"),
    benchmark:
        benchmark_path("evaluate", "{species}")
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("evaluate", "threads", 1)
    resources:
        mem_mb=scaled("evaluate", "mem_mb", 2000),
        runtime=scaled("evaluate", "runtime", 30),
    params:
        sheet=sheet_columns("specimen", "mask", "gt_mask"),
        engine=ENGINE,
        settings=settings_digest("evaluate", config),
    script:
        "../scripts/evaluate.py"
