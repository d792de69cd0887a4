rule measure:
    input:
        labels=final_file("labels"),
        predictions=final_file("predictions"),
        scale=SPECIES_FILES.scale_table,
        images=member_images,
    output:
        per_specimen=directory(SPECIES_FILES.traits_dir),
        table=SPECIES_FILES.traits_table,
    log:
        log_path("measure", "{species}"),
    benchmark:
        benchmark_path("measure", "{species}")
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("measure", "threads", 1)
    resources:
        mem_mb=scaled("measure", "mem_mb", 2000),
        runtime=scaled("measure", "runtime", 60),
    params:
        sheet=sheet_columns(
            "specimen",
            "image",
            "mask",
            *config["traits"]["sheet_columns"],
        ),
        settings=settings_digest("measure", config),
    script:
        "../scripts/measure.py"
