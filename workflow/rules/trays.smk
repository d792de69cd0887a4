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
            directory("results/trays/{tray}"),
        log:
            "logs/split/{tray}.log",
        benchmark:
            "results/benchmarks/split/{tray}.tsv"
        conda:
            "../../envs/traitrack.yaml"
        threads: resource("split", "threads", 1)
        resources:
            mem_mb=scaled("split", "mem_mb", 3000),
            runtime=scaled("split", "runtime", 30),
        params:
            trays=config["trays"],
            row=lambda wildcards: TRAYS.loc[wildcards.tray].to_dict(),
            options=config["split"],
        script:
            "../scripts/split.py"

    rule tray_table:
        input:
            trays=expand("results/trays/{tray}", tray=TRAYS["tray"]),
            samples=USER_SAMPLES,
            species=config["tray_species"] or [],
        output:
            table="results/trays/trays.tsv",
            crops="results/trays/crops.tsv",
            samples=TRAY_SAMPLES,
        log:
            "logs/tray_table.log",
        conda:
            "../../envs/traitrack.yaml"
        script:
            "../scripts/tray_table.py"

    rule trays:
        input:
            "results/trays/trays.tsv",

    rule tray_traits:
        input:
            traits="results/traits.csv",
            samples=TRAY_SAMPLES,
        output:
            directory("results/trays/traits"),
        log:
            "logs/tray_traits.log",
        conda:
            "../../envs/traitrack.yaml"
        script:
            "../scripts/tray_traits.py"
