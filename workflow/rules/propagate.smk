rule propagate:
    input:
        pseudovideo="results/{species}/pseudovideo.json",
        images=member_images,
        masks=member_masks,
        checkpoint=sam2_checkpoint if ENGINE == "sam2" else [],
        finetuned=finetuned_weights,
    output:
        labels=directory("results/{species}/labels"),
        predictions="results/{species}/predictions.tsv",
        qc="results/{species}/qc.tsv",
        coco="results/{species}/masks.coco.json",
    log:
        "logs/propagate/{species}.log",
    benchmark:
        "results/benchmarks/propagate/{species}.tsv"
    conda:
        "../../envs/sam2.yaml" if ENGINE == "sam2" else "../../envs/traitrack.yaml"
    threads: propagate_threads()
    resources:
        mem_mb=scaled("propagate", "mem_mb", 8000),
        runtime=scaled("propagate", "runtime", 120),
        gpu=gpus("propagate", ENGINE == "sam2"),
    params:
        sheet=sheet_columns("specimen", "species", "image", "mask", "genus"),
        samples=config["samples"],
        structures=STRUCTURES,
        engine=ENGINE,
        engine_options=config[ENGINE],
        seed=config["seed"],
        qc=config["qc"],
    script:
        "../scripts/propagate.py"
