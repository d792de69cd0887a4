rule overlays:
    input:
        labels=final_file("labels"),
        images=member_images,
    output:
        report(
            directory(SPECIES_FILES.overlays),
            patterns=["{specimen}.png"],
            caption="../report/overlays.rst",
            category="Overlays",
            subcategory="{species}",
            labels={"species": "{species}", "specimen": "{specimen}"},
        ),
    log:
        log_path("overlays", "{species}"),
    benchmark:
        benchmark_path("overlays", "{species}")
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("overlays", "threads", 1)
    resources:
        mem_mb=scaled("overlays", "mem_mb", 2000),
        runtime=scaled("overlays", "runtime", 60),
    params:
        sheet=sheet_columns("specimen", "image", "mask"),
        settings=settings_digest("overlays", config),
    script:
        "../scripts/overlays.py"


rule tables:
    input:
        traits=[layout(species).traits_table for species in SPECIES],
    output:
        traits=POOLED.traits,
    log:
        log_path("tables", "all"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/tables.py"


# apart from `tables`, so that a species' gt_mask problems, which stop its `evaluate`, never
# hold back results/traits.csv
rule evaluation_tables:
    input:
        evaluations=[
            final_files(species).evaluation
            for species in SPECIES
            if has_ground_truth(species)
        ],
    output:
        evaluation=POOLED.evaluation,
        summary=POOLED.evaluation_summary,
    log:
        log_path("tables", "evaluation"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/tables.py"


rule plots:
    input:
        POOLED.traits,
    output:
        report(
            directory(POOLED.report_traits),
            patterns=["{structure}.png"],
            caption="../report/traits.rst",
            category="Trait distributions",
            labels={"structure": "{structure}"},
        ),
    log:
        log_path("plots", "all"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        settings=settings_digest("plots", config),
    script:
        "../scripts/plots.py"


rule report_tables:
    input:
        qc=[final_files(species).qc for species in SPECIES],
        evaluation=POOLED.evaluation_summary,
    output:
        qc=report(
            POOLED.report_qc,
            caption="../report/qc.rst",
            category="Quality control",
            labels={"table": "QC round trip, every target"},
        ),
        evaluation=report(
            POOLED.report_evaluation,
            caption="../report/evaluation.rst",
            category="Evaluation",
            labels={"table": "IoU against ground truth"},
        ),
    log:
        log_path("report_tables", "all"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/report_tables.py"
