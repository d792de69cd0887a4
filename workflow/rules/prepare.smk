DESCRIBE_SAM2 = config["describe"]["method"] == "sam2"


rule describe:
    input:
        images=member_images,
        # every input checked first; an edited mask reruns validate and so describe too
        validation="results/{species}/validation.tsv",
        checkpoint=sam2_checkpoint if config["describe"]["method"] == "sam2" else [],
    output:
        "results/{species}/descriptors.npz",
    log:
        "logs/describe/{species}.log",
    benchmark:
        "results/benchmarks/describe/{species}.tsv"
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
        samples=config["samples"],
        method=config["describe"]["method"],
        thumbnail_size=config["describe"]["thumbnail_size"],
        pool=config["select"]["template_pool"],
        seed=config["seed"],
        registration=describe_registration(),
        sam2=config["sam2"] if DESCRIBE_SAM2 else {},
        working_megapixels=config["limits"]["working_megapixels"],
    script:
        "../scripts/describe.py"


rule select:
    input:
        descriptors="results/{species}/descriptors.npz",
        samples=ancient(config["samples"]),
    output:
        "results/{species}/selection.tsv",
    log:
        "logs/select/{species}.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "genus"),
        k=config["select"]["k"],
        pool=config["select"]["template_pool"],
    script:
        "../scripts/select.py"


rule order:
    input:
        selection="results/{species}/selection.tsv",
        descriptors="results/{species}/descriptors.npz",
    output:
        "results/{species}/pseudovideo.json",
    log:
        "logs/order/{species}.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        mode=config["order"]["mode"],
        chunk_length=config["order"]["chunk_length"],
    script:
        "../scripts/order.py"
