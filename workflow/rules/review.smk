rule data_dictionary:
    output:
        report(
            POOLED.data_dictionary,
            caption="../report/data_dictionary.rst",
            category="Trait tables",
            labels={"table": "data dictionary"},
        ),
    log:
        log_path("data_dictionary", "all"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/data_dictionary.py"


rule export_corrections:
    input:
        labels=final_file("labels"),
        qc=final_file("qc"),
    output:
        directory(SPECIES_FILES.corrections),
    log:
        log_path("export_corrections", "{species}"),
    conda:
        "../../envs/traitrack.yaml"
    params:
        sheet=sheet_columns("specimen", "image"),
        settings=settings_digest("export_corrections", config),
    script:
        "../scripts/export_corrections.py"


rule corrections:
    input:
        [layout(species).corrections for species in SPECIES],
    localrule: True


rule review:
    input:
        qc=[final_files(species).qc for species in SPECIES],
        annotate_next=[layout(species).annotate_next for species in SPECIES],
        overlays=[layout(species).overlays for species in SPECIES],
    output:
        report(
            POOLED.review,
            caption="../report/review.rst",
            category="Quality control",
            labels={"table": "review: the doubtful predictions first"},
        ),
    log:
        log_path("review", "all"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        species_names=SPECIES,
    script:
        "../scripts/review.py"


rule retrieve:
    input:
        labels=retrieval_inputs("labels"),
        qc=retrieval_inputs("qc"),
    output:
        table=POOLED.retrieval("{specimen}", "{structure}", ".tsv"),
        sheet=POOLED.retrieval("{specimen}", "{structure}", ".png"),
    log:
        log_path("retrieve", "{specimen}.{structure}"),
    benchmark:
        benchmark_path("retrieve", "{specimen}.{structure}")
    conda:
        "../../envs/traitrack.yaml"
    resources:
        mem_mb=scaled("retrieve", "mem_mb", 2000),
        gpu=gpus("retrieve", ENGINE == "sam2" and config["retrieve"]["cycle"]),
        runtime=scaled("retrieve", "runtime", 60),
    params:
        settings=settings_digest("retrieve", config),
        final_dirs={species: final_files(species).folder for species in SPECIES},
    script:
        "../scripts/retrieve.py"
