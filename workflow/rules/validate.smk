# Every problem of a species' inputs, found before any heavy job: `validate` checks what every
# job reads (images, template masks; `describe` waits for it), `validate_ground_truth` the
# `gt_mask` files, whose problems stop only `evaluate` (and which rerun only it when edited).


rule validate:
    input:
        images=member_images,
        masks=member_masks,
        samples=ancient(config["samples"]),
    output:
        "results/{species}/validation.tsv",
    log:
        "logs/validate/{species}.log",
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
        structures=STRUCTURES,
        pool=config["select"]["template_pool"],
        max_megapixels=config["limits"]["max_megapixels"],
        ground_truth=False,
    script:
        "../scripts/validate.py"


use rule validate as validate_ground_truth with:
    input:
        images=member_images,
        gt=member_gt_masks,
        samples=ancient(config["samples"]),
    output:
        "results/{species}/ground_truth_validation.tsv",
    log:
        "logs/validate/{species}.ground_truth.log",
    params:
        sheet=sheet_columns("specimen", "species", "image", "gt_mask", "mask"),
        structures=STRUCTURES,
        pool=config["select"]["template_pool"],
        max_megapixels=0,
        ground_truth=True,
