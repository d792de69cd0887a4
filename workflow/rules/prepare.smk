DESCRIBE_SAM2 = config["describe"]["method"] == "sam2"


rule describe:
    input:
        images=member_images,
        # every input checked first; an edited mask reruns validate and so describe too
        validation=SPECIES_FILES.validation,
        checkpoint=sam2_checkpoint if config["describe"]["method"] == "sam2" else [],
    output:
        SPECIES_FILES.descriptors,
    log:
        log_path("describe", "{species}"),
    benchmark:
        benchmark_path("describe", "{species}")
    conda:
        "../../envs/sam2.yaml" if DESCRIBE_SAM2 else "../../envs/traitrack.yaml"
    threads: resource("describe", "threads", 2 if DESCRIBE_SAM2 else 1)
    resources:
        mem_mb=scaled("describe", "mem_mb", 8000 if DESCRIBE_SAM2 else 2000),
        runtime=describe_runtime,
        gpu=gpus("describe", DESCRIBE_SAM2),
        slurm_partition=slurm_partition("describe", DESCRIBE_SAM2),
    params:
        sheet=sheet_columns("specimen", "image"),
        settings=settings_digest("describe", config),
    script:
        "../scripts/describe.py"


rule select:
    input:
        descriptors=SPECIES_FILES.descriptors,
        samples=ancient(config["samples"]),
    output:
        SPECIES_FILES.selection,
    log:
        log_path("select", "{species}"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "genus"),
        settings=settings_digest("select", config),
    script:
        "../scripts/select.py"


rule order:
    input:
        selection=SPECIES_FILES.selection,
        descriptors=SPECIES_FILES.descriptors,
    output:
        SPECIES_FILES.pseudovideo,
    log:
        log_path("order", "{species}"),
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        settings=settings_digest("order", config),
    script:
        "../scripts/order.py"
