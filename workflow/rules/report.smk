rule overlays:
    input:
        labels=final_file("labels"),
        images=member_images,
    output:
        report(
            directory("results/{species}/overlays"),
            patterns=["{specimen}.png"],
            caption="../report/overlays.rst",
            category="Overlays",
            subcategory="{species}",
            labels={"species": "{species}", "specimen": "{specimen}"},
        ),
    log:
        "logs/overlays/{species}.log",
    benchmark:
        "results/benchmarks/overlays/{species}.tsv"
    conda:
        "../../envs/traitrack.yaml"
    threads: resource("overlays", "threads", 1)
    resources:
        mem_mb=scaled("overlays", "mem_mb", 2000),
        runtime=scaled("overlays", "runtime", 60),
    params:
        sheet=sheet_columns("specimen", "image", "mask"),
        samples=config["samples"],
        structures=STRUCTURES,
    script:
        "../scripts/overlays.py"


rule tables:
    input:
        traits=expand("results/traits/{species}.csv", species=SPECIES),
    output:
        traits="results/traits.csv",
    log:
        "logs/tables/all.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/tables.py"


# apart from `tables`, so that a species' gt_mask problems, which stop its `evaluate`, never
# hold back results/traits.csv
rule evaluation_tables:
    input:
        evaluations=[
            f"{final_dir(species)}/evaluation.tsv"
            for species in SPECIES
            if has_ground_truth(species)
        ],
    output:
        evaluation="results/evaluation.tsv",
        summary="results/evaluation_summary.tsv",
    log:
        "logs/tables/evaluation.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/tables.py"


rule plots:
    input:
        "results/traits.csv",
    output:
        report(
            directory("results/report/traits"),
            patterns=["{structure}.png"],
            caption="../report/traits.rst",
            category="Trait distributions",
            labels={"structure": "{structure}"},
        ),
    log:
        "logs/plots/all.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    params:
        seed=config["seed"],
    script:
        "../scripts/plots.py"


rule report_tables:
    input:
        qc=[f"{final_dir(species)}/qc.tsv" for species in SPECIES],
        evaluation="results/evaluation_summary.tsv",
    output:
        qc=report(
            "results/report/qc.html",
            caption="../report/qc.rst",
            category="Quality control",
            labels={"table": "QC round trip, every target"},
        ),
        evaluation=report(
            "results/report/evaluation.html",
            caption="../report/evaluation.rst",
            category="Evaluation",
            labels={"table": "IoU against ground truth"},
        ),
    log:
        "logs/report_tables/all.log",
    localrule: True
    conda:
        "../../envs/traitrack.yaml"
    script:
        "../scripts/report_tables.py"
