rule calibrate:
    input:
        # the species' own images: calibrate reads no borrowed template
        images=lambda wc: [m.image for m in members(wc.species) if m.species == wc.species],
    output:
        table="results/{species}/scale.tsv",
        overlays=directory("results/{species}/scale_overlays"),
    log:
        "logs/calibrate/{species}.log",
    benchmark:
        "results/benchmarks/calibrate/{species}.tsv"
    conda:
        "../../envs/calibrate.yaml"
    threads: resource("calibrate", "threads", 1)
    resources:
        mem_mb=scaled("calibrate", "mem_mb", 2000),
        runtime=scaled("calibrate", "runtime", 60),
    params:
        sheet=sheet_columns("specimen", "image", "px_per_mm", "scale_bar_mm"),
        samples=config["samples"],
        options=config["calibrate"],
    script:
        "../scripts/calibrate.py"
