# Trays: photographs of several specimens split into one crop per specimen (traitrack.trays).
# The tray sheet is its own file because the crops are unknown when Snakemake plans: the
# split is a first target (`snakemake trays`), and the next run reads the sample sheet with
# the crops (common.smk) and plans them as specimens of their species.

if config["trays"]:
    from traitrack.trays.sheet import read_tray_sheet

    TRAYS = read_tray_sheet(config["trays"])

    wildcard_constraints:
        tray="|".join(TRAYS["tray"]),

    rule split:
        input:
            # the photograph, and a corrected instance map where the tray sheet names one
            lambda wildcards: [
                TRAYS.loc[wildcards.tray, column]
                for column in ("image", "instances")
                if TRAYS.loc[wildcards.tray, column]
            ],
        output:
            directory(TRAY_FILES.split("{tray}")),
        log:
            log_path("split", "{tray}"),
        benchmark:
            benchmark_path("split", "{tray}")
        conda:
            "../../envs/traitrack.yaml"
        threads: resource("split", "threads", 1)
        resources:
            mem_mb=scaled("split", "mem_mb", 3000),
            runtime=scaled("split", "runtime", 30),
        params:
            # the tray's row of the tray sheet: an edited row reruns that tray alone
            row=lambda wildcards: TRAYS.loc[wildcards.tray].to_dict(),
            settings=settings_digest("split", config),
        script:
            "../scripts/split.py"

    rule tray_table:
        input:
            trays=[TRAY_FILES.split(tray) for tray in TRAYS["tray"]],
            samples=USER_SAMPLES,
            species=config["tray_species"] or [],
        output:
            table=TRAY_FILES.table,
            crops=TRAY_FILES.crops,
            samples=TRAY_SAMPLES,
        log:
            log_path("tray_table", "all"),
        conda:
            "../../envs/traitrack.yaml"
        script:
            "../scripts/tray_table.py"

    rule trays:
        input:
            TRAY_FILES.table,

    rule tray_traits:
        input:
            traits=POOLED.traits,
            samples=TRAY_SAMPLES,
        output:
            directory(TRAY_FILES.traits),
        log:
            log_path("tray_traits", "all"),
        conda:
            "../../envs/traitrack.yaml"
        script:
            "../scripts/tray_traits.py"
