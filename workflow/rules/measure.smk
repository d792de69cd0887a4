rule measure:
    input:
        labels=final_file("labels"),
        predictions=final_file("predictions.tsv"),
        scale="results/{species}/scale.tsv",
        images=member_images,
    output:
        per_specimen=directory("results/traits/{species}"),
        table="results/traits/{species}.csv",
    log:
        "logs/measure/{species}.log",
    benchmark:
        "results/benchmarks/measure/{species}.tsv"
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("measure", "threads", 1)
    resources:
        mem_mb=scaled("measure", "mem_mb", 2000),
        runtime=scaled("measure", "runtime", 60),
    params:
        sheet=sheet_columns("specimen", "image", "mask"),
        samples=config["samples"],
        structures=STRUCTURES,
    script:
        "../scripts/measure.py"
