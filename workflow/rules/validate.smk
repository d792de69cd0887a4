rule validate:
    input:
        images=member_images,
        masks=member_masks,
        gt=member_gt_masks,
        samples=ancient(config["samples"]),
    output:
        "results/{species}/validation.tsv",
    log:
        "logs/validate/{species}.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("validate", "threads", 1)
    resources:
        mem_mb=scaled("validate", "mem_mb", 2000),
        runtime=scaled("validate", "runtime", 30),
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "gt_mask", "genus"),
        structures=STRUCTURES,
        pool=config["select"]["template_pool"],
        max_megapixels=config["limits"]["max_megapixels"],
        config_file=" + ".join(dict.fromkeys(map(str, workflow.configfiles)))
        or "config",
    script:
        "../scripts/validate.py"
