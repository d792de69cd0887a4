rule calibrate:
    input:
        # the species' own images: calibrate reads no borrowed template
        images=lambda wc: [
            m.image for m in members(wc.species) if m.species == wc.species
        ],
        # the split folders of the trays its crops come from: their scale bars
        trays=lambda wc: [TRAY_FILES.split(tray) for tray in species_trays(wc.species)],
    output:
        table=SPECIES_FILES.scale_table,
        overlays=directory(SPECIES_FILES.scale_overlays),
    log:
        log_path("calibrate", "{species}"),
    benchmark:
        benchmark_path("calibrate", "{species}")
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
        settings=settings_digest("calibrate", config),
    script:
        "../scripts/calibrate.py"
