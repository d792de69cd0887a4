rule calibrate:
    input:
        # the species' own images: calibrate reads no borrowed template
        images=lambda wc: [
            m.image for m in members(wc.species) if m.species == wc.species
        ],
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
        # 30 min plus 2 s per specimen (a bar read with OCR: 0.2-1.3 s on one core)
        runtime=lambda wc, attempt: attempt
        * resource(
            "calibrate", "runtime", 30 + math.ceil(2 * len(members(wc.species)) / 60)
        ),
    params:
        sheet=sheet_columns("specimen", "image", "px_per_mm", "scale_bar_mm"),
        samples=config["samples"],
        options=config["calibrate"],
    script:
        "../scripts/calibrate.py"
