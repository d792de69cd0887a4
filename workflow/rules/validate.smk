# Every problem of a species' inputs, found before any heavy job: `validate` checks what every
# job reads (images, template masks; `describe` waits for it), `validate_ground_truth` the
# `gt_mask` files, whose problems stop only `evaluate` (and which rerun only it when edited).


rule validate:
    input:
        images=member_images,
        masks=member_masks,
        samples=ancient(config["samples"]),
    output:
        SPECIES_FILES.validation,
    log:
        log_path("validate", "{species}"),
    priority: 100
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("validate", "threads", 1)
    resources:
        mem_mb=scaled("validate", "mem_mb", 2000),
        runtime=scaled("validate", "runtime", 30),
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "genus"),
        settings=settings_digest("validate", config),
        ground_truth=False,
    script:
        "../scripts/validate.py"


localrules:
    validate_ground_truth,


use rule validate as validate_ground_truth with:
    input:
        images=member_images,
        gt=member_gt_masks,
        samples=ancient(config["samples"]),
    output:
        SPECIES_FILES.ground_truth_validation,
    log:
        log_path("validate", "{species}.ground_truth"),
    params:
        sheet=sheet_columns("specimen", "species", "image", "gt_mask", "mask"),
        settings=settings_digest("validate", config),
        ground_truth=True,
